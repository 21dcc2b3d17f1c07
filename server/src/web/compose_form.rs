//! The compose form as the browser posts it: `application/x-www-form-urlencoded`
//! (no files) or `multipart/form-data` (with files), read as a stream with
//! limits — text fields are capped, so are the parts and their text together,
//! files add up to at most a budget —
//! and uploads named safely. Nothing here decides what to do with it.

use actix_web::{web, FromRequest, HttpRequest};
use futures_util::StreamExt;

/// A file the user uploaded.
#[derive(Debug, Clone)]
pub struct Upload {
    pub name: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

/// Every field (in order, repeated ones repeated) and the files.
#[derive(Debug, Default)]
pub struct Posted {
    pub fields: Vec<(String, String)>,
    pub uploads: Vec<Upload>,
    /// The files passed the budget (or the count): they were read and
    /// dropped, the text fields kept.
    pub files_refused: bool,
}

impl Posted {
    /// The first value of a field, or "".
    pub fn get(&self, name: &str) -> String {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }
    /// Every value of a repeated field.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.fields
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FormError {
    #[error("the form cannot be read: {0}")]
    Bad(String),
}

/// Beyond the file budget, a post is still read (its text fields come
/// after the files) up to this many times the budget, then dropped.
const DRAIN_FACTOR: usize = 4;

/// Longest text field (the body), and any other field.
const BODY_MAX: usize = 1 << 20;
const FIELD_MAX: usize = 16 * 1024;
/// Most files in one post.
pub const MAX_FILES: usize = 20;
/// Parts a post may have at all (fields, files, empty file inputs), and
/// the text all its fields may hold together: a form is a form, not a way
/// to make the server hold memory.
pub const MAX_PARTS: usize = 256;
const TEXT_MAX: usize = 2 << 20;

/// A file name safe to keep and to put in a MIME header: no path, no
/// control characters, at most 200 characters.
pub fn safe_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let clean: String = base
        .chars()
        .filter(|c| !c.is_control() && *c != '"')
        .take(200)
        .collect();
    let clean = clean.trim().trim_start_matches('.').to_string();
    if clean.is_empty() {
        "attachment".into()
    } else {
        clean
    }
}

/// A MIME type as given, if it is one (type/subtype of token characters).
pub fn safe_type(t: &str) -> String {
    let ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c))
    };
    match t.split_once('/') {
        Some((a, b)) if ok(a) && ok(b) => t.to_ascii_lowercase(),
        _ => "application/octet-stream".into(),
    }
}

/// Read the posted form. `file_budget`: most bytes all files may take.
pub async fn read(
    req: &HttpRequest,
    payload: web::Payload,
    file_budget: usize,
) -> Result<Posted, FormError> {
    let multipart = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    if !multipart {
        let mut p = payload.into_inner();
        let form = web::Form::<Vec<(String, String)>>::from_request(req, &mut p)
            .await
            .map_err(|e| FormError::Bad(e.to_string()))?;
        let fields = form.into_inner();
        if fields.len() > MAX_PARTS {
            return Err(FormError::Bad(format!(
                "the form has more than {MAX_PARTS} fields"
            )));
        }
        return Ok(Posted {
            fields,
            ..Default::default()
        });
    }
    let mut mp = actix_multipart::Multipart::new(req.headers(), payload);
    let mut out = Posted::default();
    let mut file_bytes = 0usize;
    let mut text_bytes = 0usize;
    let mut parts = 0usize;
    while let Some(item) = mp.next().await {
        let mut field = item.map_err(|e| FormError::Bad(e.to_string()))?;
        parts += 1;
        if parts > MAX_PARTS {
            return Err(FormError::Bad(format!(
                "the form has more than {MAX_PARTS} parts"
            )));
        }
        let (name, filename) = match field.content_disposition() {
            Some(cd) => (
                cd.get_name().unwrap_or_default().to_string(),
                cd.get_filename().map(str::to_string),
            ),
            None => (String::new(), None),
        };
        let content_type = field.content_type().map(|m| m.essence_str().to_string());
        match filename {
            Some(filename) => {
                let mut data = Vec::new();
                while let Some(chunk) = field.next().await {
                    let chunk = chunk.map_err(|e| FormError::Bad(e.to_string()))?;
                    file_bytes += chunk.len();
                    if file_bytes > file_budget.saturating_mul(DRAIN_FACTOR) {
                        return Err(FormError::Bad("the files are far too large".into()));
                    }
                    if file_bytes > file_budget {
                        out.files_refused = true;
                        data.clear();
                        continue;
                    }
                    data.extend_from_slice(&chunk);
                }
                // an empty file input sends a part with no name and no bytes
                if (filename.is_empty() && data.is_empty()) || out.files_refused {
                    continue;
                }
                if out.uploads.len() >= MAX_FILES {
                    out.files_refused = true;
                    continue;
                }
                out.uploads.push(Upload {
                    name: safe_name(&filename),
                    content_type: safe_type(content_type.as_deref().unwrap_or("")),
                    data,
                });
            }
            None => {
                let max = if name == "body" { BODY_MAX } else { FIELD_MAX };
                let mut data = Vec::new();
                while let Some(chunk) = field.next().await {
                    let chunk = chunk.map_err(|e| FormError::Bad(e.to_string()))?;
                    if data.len() + chunk.len() > max {
                        return Err(FormError::Bad(format!("the field {name:?} is too long")));
                    }
                    text_bytes += chunk.len();
                    if text_bytes > TEXT_MAX {
                        return Err(FormError::Bad("the form's text is too long".into()));
                    }
                    data.extend_from_slice(&chunk);
                }
                let value = String::from_utf8(data)
                    .map_err(|_| FormError::Bad(format!("the field {name:?} is not UTF-8")))?;
                out.fields.push((name, value));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_types_are_made_safe() {
        assert_eq!(safe_name("C:\\Users\\x\\report.pdf"), "report.pdf");
        assert_eq!(safe_name("../../etc/passwd"), "passwd");
        assert_eq!(
            safe_name("a\r\nContent-Type: x\".txt"),
            "aContent-Type: x.txt"
        );
        assert_eq!(safe_name(".htaccess"), "htaccess");
        assert_eq!(safe_name(""), "attachment");
        assert_eq!(safe_name(&"é".repeat(500)).chars().count(), 200);
        assert_eq!(safe_type("Image/PNG"), "image/png");
        assert_eq!(
            safe_type("text/html; charset=x"),
            "application/octet-stream"
        );
        assert_eq!(safe_type("evil\r\n/x"), "application/octet-stream");
        assert_eq!(safe_type(""), "application/octet-stream");
    }
}
