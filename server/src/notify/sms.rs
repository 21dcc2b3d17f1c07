//! The SMS gateway: any provider with an HTTP API, through a POST of the
//! operator's body template (`{to}` and `{text}` escaped for its content
//! type), signed like the outage webhooks (`Continuity-Signature`) when a
//! key is given, with the provider's own credentials as header lines read
//! from a file.

use std::sync::Arc;

use crate::config::{SmsBody, SmsGateway};
use crate::monitor::webhook::{check_url, signature};
use crate::store::now_ms;

/// A gateway ready to post.
pub struct Gateway {
    pub cfg: SmsGateway,
    uri: hyper::Uri,
    secret: Option<String>,
    headers: Vec<(String, String)>,
    tls: Arc<rustls::ClientConfig>,
}

/// A mobile number as E.164 ("+33612345678"), from what was typed
/// ("06 12 34 56 78" is not: the country is needed).
pub fn normalize_mobile(typed: &str) -> Result<String, &'static str> {
    let t: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '.' | '-' | '(' | ')'))
        .collect();
    let t = match t.strip_prefix("00") {
        Some(rest) => format!("+{rest}"),
        None => t,
    };
    let Some(digits) = t.strip_prefix('+') else {
        return Err("the number must start with + and the country code (+33…)");
    };
    if !(8..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("not a phone number: + then 8 to 15 digits");
    }
    if digits.starts_with('0') {
        return Err("no country code starts with 0");
    }
    Ok(t)
}

/// `s` as it goes inside a JSON string.
fn json_escaped(s: &str) -> String {
    let quoted = serde_json::Value::String(s.to_string()).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

fn form_escaped(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The request's body for `to` and `text`.
pub fn body(cfg: &SmsGateway, to: &str, text: &str) -> String {
    let esc = match cfg.content_type {
        SmsBody::Json => json_escaped,
        SmsBody::Form => form_escaped,
    };
    // one pass, so that a `{text}` inside the number (or the reverse)
    // is never replaced again
    let mut out = String::with_capacity(cfg.body.len() + text.len());
    let mut rest = cfg.body.as_str();
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(r) = tail.strip_prefix("{to}") {
            out.push_str(&esc(to));
            rest = r;
        } else if let Some(r) = tail.strip_prefix("{text}") {
            out.push_str(&esc(text));
            rest = r;
        } else {
            out.push('{');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

impl Gateway {
    /// Read the key and header files now (a missing file is an error the
    /// service says at start).
    pub fn new(cfg: SmsGateway) -> Result<Gateway, String> {
        let uri = check_url(&cfg.url)?;
        let secret = match &cfg.secret_file {
            Some(p) => Some(
                std::fs::read_to_string(p)
                    .map_err(|e| format!("notify.sms_secret_file {}: {e}", p.display()))?
                    .trim()
                    .to_string(),
            ),
            None => None,
        };
        let mut headers = Vec::new();
        if let Some(p) = &cfg.headers_file {
            let text = std::fs::read_to_string(p)
                .map_err(|e| format!("notify.sms_headers_file {}: {e}", p.display()))?;
            for line in text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
            {
                let Some((name, value)) = line.split_once(':') else {
                    return Err(format!(
                        "notify.sms_headers_file {}: not a header line (Name: value)",
                        p.display()
                    ));
                };
                let (name, value) = (name.trim(), value.trim());
                if hyper::header::HeaderName::from_bytes(name.as_bytes()).is_err()
                    || hyper::header::HeaderValue::from_str(value).is_err()
                {
                    return Err(format!(
                        "notify.sms_headers_file {}: {name:?} is not a valid header",
                        p.display()
                    ));
                }
                headers.push((name.to_string(), value.to_string()));
            }
        }
        Ok(Gateway {
            cfg,
            uri,
            secret,
            headers,
            tls: crate::http_post::client_tls(),
        })
    }

    /// Post one SMS; Ok when the gateway answers 2xx. `id` goes along
    /// (`Continuity-Notice-Id`) so that the gateway can drop a repeat.
    pub async fn send(&self, id: &str, to: &str, text: &str) -> Result<(), String> {
        let body = body(&self.cfg, to, text);
        let mut headers = vec![
            (
                "Content-Type".to_string(),
                self.cfg.content_type.mime().to_string(),
            ),
            ("User-Agent".to_string(), "Continuity-Notify/1".to_string()),
            ("Continuity-Notice-Id".to_string(), id.to_string()),
        ];
        if let Some(secret) = &self.secret {
            headers.push((
                "Continuity-Signature".to_string(),
                signature(secret, now_ms() / 1000, &body),
            ));
        }
        headers.extend(self.headers.iter().cloned());
        let status = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            crate::http_post::post(
                &self.tls,
                crate::http_post::Post {
                    uri: &self.uri,
                    addrs: None,
                    headers,
                    body,
                },
            ),
        )
        .await
        .map_err(|_| "no answer within 10 s".to_string())??;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the gateway answered {status}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(kind: SmsBody, body: &str) -> SmsGateway {
        SmsGateway {
            url: "https://sms.example.net/send".into(),
            content_type: kind,
            body: body.into(),
            secret_file: None,
            headers_file: None,
            cap_per_domain: 10,
        }
    }

    #[test]
    fn placeholders_are_escaped_for_the_content_type() {
        let json = cfg(
            SmsBody::Json,
            r#"{"to": "{to}", "text": "{text}", "x": "{y}"}"#,
        );
        let b = body(&json, "+33612345678", "say \"hi\" {to}\nnow");
        let v: serde_json::Value = serde_json::from_str(&b).expect("json");
        assert_eq!(v["to"], "+33612345678");
        assert_eq!(v["text"], "say \"hi\" {to}\nnow", "not replaced twice");
        assert_eq!(v["x"], "{y}");
        let form = cfg(SmsBody::Form, "To={to}&Body={text}");
        assert_eq!(
            body(&form, "+33612345678", "à bientôt & merci"),
            "To=%2B33612345678&Body=%C3%A0+bient%C3%B4t+%26+merci"
        );
    }

    #[test]
    fn mobiles_are_e164() {
        assert_eq!(
            normalize_mobile("+33 6 12 34 56 78").as_deref(),
            Ok("+33612345678")
        );
        assert_eq!(
            normalize_mobile("0033 6.12.34.56.78").as_deref(),
            Ok("+33612345678")
        );
        assert_eq!(
            normalize_mobile("+1 (415) 555-0100").as_deref(),
            Ok("+14155550100")
        );
        for bad in [
            "06 12 34 56 78",
            "+33",
            "+0612345678",
            "+33 6 12 ab 56 78",
            "",
        ] {
            assert!(normalize_mobile(bad).is_err(), "{bad}");
        }
    }
}
