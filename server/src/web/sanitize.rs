//! Making a message's HTML safe to show (ammonia). Pure: no I/O.
//!
//! What comes out has no scripts, event handlers, forms, frames, `<meta>`,
//! `<base>`, `<style>` blocks or `javascript:` URLs; links open in a new
//! tab without a referrer; `cid:` images point at the message's own parts;
//! remote images and remote CSS are dropped (and counted) unless the user
//! allowed remote content for this message. The page that shows the result
//! adds a second wall: a sandboxed frame with a Content-Security-Policy that
//! forbids scripts and, unless allowed, any remote load.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The result of sanitizing one HTML body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sanitized {
    pub html: String,
    /// Remote images / stylesheets that were removed.
    pub remote_blocked: usize,
}

/// CSS properties kept in `style` attributes (layout and typography only).
const STYLE_PROPERTIES: &[&str] = &[
    "background-color",
    "border",
    "border-bottom",
    "border-collapse",
    "border-color",
    "border-left",
    "border-radius",
    "border-right",
    "border-spacing",
    "border-style",
    "border-top",
    "border-width",
    "color",
    "display",
    "font",
    "font-family",
    "font-size",
    "font-style",
    "font-weight",
    "height",
    "letter-spacing",
    "line-height",
    "margin",
    "margin-bottom",
    "margin-left",
    "margin-right",
    "margin-top",
    "max-width",
    "min-width",
    "padding",
    "padding-bottom",
    "padding-left",
    "padding-right",
    "padding-top",
    "text-align",
    "text-decoration",
    "text-indent",
    "text-transform",
    "vertical-align",
    "white-space",
    "width",
    "word-break",
    "word-wrap",
    "background",
    "background-image",
    "list-style",
    "list-style-type",
];

/// A CSS value as the browser reads it: comments gone, escapes decoded
/// (`\\75 rl(` is `url(`), lower-cased, without whitespace — what the
/// checks below look at, so that no spelling slips past them.
fn css_normalized(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut prev = ' ';
                for c in chars.by_ref() {
                    if prev == '*' && c == '/' {
                        break;
                    }
                    prev = c;
                }
            }
            '\\' => {
                let mut hex = String::new();
                while hex.len() < 6 && chars.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
                    hex.extend(chars.next());
                }
                if hex.is_empty() {
                    // an escaped newline continues the value; any other
                    // character stands for itself
                    match chars.next() {
                        Some('\n') | None => {}
                        Some(other) => out.push(other),
                    }
                } else {
                    if chars.peek().is_some_and(|c| c.is_whitespace()) {
                        chars.next();
                    }
                    let code = u32::from_str_radix(&hex, 16).unwrap_or(0xFFFD);
                    out.push(
                        char::from_u32(code)
                            .filter(|c| *c != '\0')
                            .unwrap_or('\u{FFFD}'),
                    );
                }
            }
            c if c.is_whitespace() => {}
            c => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// Does this CSS value load something or run something?
fn css_is_active(value: &str) -> bool {
    let v = css_normalized(value);
    v.contains("expression(")
        || v.contains("javascript:")
        || v.contains("behavior:")
        || v.contains("-moz-binding")
        || v.contains("@import")
}

fn css_loads_remote(value: &str) -> bool {
    let v = css_normalized(value);
    v.contains("url(") || v.contains("image-set(") || v.contains("src(")
}

/// A URL as a browser reads it before resolving it (WHATWG URL: leading and
/// trailing C0 controls and spaces trimmed, tabs and newlines removed
/// anywhere; the HTML parser already decoded entities such as `&#9;`).
fn url_normalized(value: &str) -> String {
    value
        .trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect()
}

/// The scheme of an absolute URL, lower-cased, as a browser parses it;
/// `None` for a relative one.
fn scheme_of(value: &str) -> Option<String> {
    url::Url::parse(&url_normalized(value))
        .ok()
        .map(|u| u.scheme().to_string())
}

/// A relative URL that leaves our origin (`//host/x`, `/\\host/x`).
fn protocol_relative(value: &str) -> bool {
    let v = url_normalized(value).replace('\\', "/");
    v.starts_with("//")
}

/// `cid:` reference to the URL that serves that part of the message.
fn cid_url(base: &str, cid: &str) -> String {
    let cid = cid.trim().trim_start_matches('<').trim_end_matches('>');
    let mut out = String::with_capacity(base.len() + cid.len() + 8);
    out.push_str(base);
    for b in cid.bytes() {
        // '.' is encoded too, so no ".." can appear in what we write
        if b.is_ascii_alphanumeric() || b"-_~@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Sanitize `html`. `cid_base` is the path prefix that serves inline parts
/// by Content-ID (e.g. `/mail/m/42/cid/`); `allow_remote` keeps http(s)
/// images and CSS URLs.
pub fn sanitize(html: &str, cid_base: &str, allow_remote: bool) -> Sanitized {
    let blocked = Arc::new(AtomicUsize::new(0));
    let counter = blocked.clone();
    let base = cid_base.to_string();
    let mut b = ammonia::Builder::default();
    b.add_generic_attributes([
        "style", "class", "dir", "align", "valign", "bgcolor", "width", "height",
    ])
    .add_tag_attributes("img", ["src", "alt", "title", "width", "height", "border"])
    .add_tag_attributes("td", ["colspan", "rowspan", "nowrap"])
    .add_tag_attributes("th", ["colspan", "rowspan", "nowrap"])
    .add_tag_attributes("table", ["cellpadding", "cellspacing", "border"])
    .add_tag_attributes("font", ["color", "face", "size"])
    .add_tags(["font", "center"])
    .filter_style_properties(STYLE_PROPERTIES.iter().copied().collect::<HashSet<_>>())
    // cid: passes the scheme check so the filter below can rewrite it
    // (images only); ammonia checks schemes on the original value.
    .url_schemes(
        ["http", "https", "mailto", "data", "cid"]
            .into_iter()
            .collect(),
    )
    .link_rel(Some("noopener noreferrer nofollow"))
    .set_tag_attribute_value("a", "target", "_blank")
    .url_relative(ammonia::UrlRelative::Custom(Box::new(OnlyOwn(
        base.clone(),
    ))))
    .attribute_filter(move |element, attribute, value| {
        match (element, attribute) {
            // decided on the URL as the browser will parse it, never on a
            // prefix of the raw text
            ("img", "src") => match scheme_of(value).as_deref() {
                Some("cid") => {
                    let v = url_normalized(value);
                    Some(Cow::Owned(cid_url(&base, &v[4..])))
                }
                Some("data") => {
                    // only raster images inline (an SVG could carry script)
                    let v = url_normalized(value).to_ascii_lowercase();
                    let media = v[5..].split([';', ',']).next().unwrap_or("").trim();
                    let raster = ["image/png", "image/gif", "image/jpeg", "image/webp"];
                    raster
                        .contains(&media)
                        .then(|| Cow::Owned(url_normalized(value)))
                }
                Some("http" | "https") if allow_remote => Some(Cow::Borrowed(value)),
                Some("http" | "https") => {
                    counter.fetch_add(1, Ordering::Relaxed);
                    None
                }
                Some(_) => None,
                None if protocol_relative(value) => {
                    // it would follow our own scheme to any host
                    counter.fetch_add(1, Ordering::Relaxed);
                    None
                }
                // relative: only what we wrote for cid: parts comes back
                None => None,
            },
            (_, "style") => {
                if css_is_active(value) {
                    return None;
                }
                if css_loads_remote(value) && !allow_remote {
                    counter.fetch_add(1, Ordering::Relaxed);
                    return None;
                }
                Some(Cow::Borrowed(value))
            }
            (_, "href") => match scheme_of(value).as_deref() {
                Some("http" | "https" | "mailto") => Some(Cow::Borrowed(value)),
                // data: and cid: are for images only; anything else is no link
                Some(_) => None,
                None if protocol_relative(value) => None,
                None => Some(Cow::Borrowed(value)),
            },
            _ => Some(Cow::Borrowed(value)),
        }
    });
    let html = b.clean(html).to_string();
    Sanitized {
        html,
        remote_blocked: blocked.load(Ordering::Relaxed),
    }
}

/// Relative URLs are dropped, except the ones we wrote for `cid:` parts.
struct OnlyOwn(String);

impl ammonia::UrlRelativeEvaluate<'static> for OnlyOwn {
    fn evaluate<'u>(&self, url: &'u str) -> Option<Cow<'u, str>> {
        // resolved as a browser would (`%2e%2e` is `..`, `\\` is `/`): what
        // it lands on must still be one of this message's parts
        let here = url::Url::parse("https://continuity.invalid/").ok()?;
        let resolved = here.join(&url_normalized(url)).ok()?;
        let ours = resolved.host_str() == Some("continuity.invalid")
            && resolved.path().starts_with(&self.0)
            && resolved.path() == url_normalized(url).split(['?', '#']).next().unwrap_or("");
        ours.then_some(Cow::Borrowed(url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(html: &str) -> Sanitized {
        sanitize(html, "/mail/m/7/cid/", false)
    }

    /// A corpus of XSS vectors: nothing executable may survive.
    #[test]
    fn xss_corpus_is_neutralised() {
        let vectors = [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "<svg onload=alert(1)><circle r=1></svg>",
            "<svg><script>alert(1)</script></svg>",
            "<a href=\"javascript:alert(1)\">x</a>",
            "<a href=\"  JaVaScRiPt:alert(1)\">x</a>",
            "<a href=\"java&#x09;script:alert(1)\">x</a>",
            "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">x</a>",
            "<iframe src=\"https://evil.test\"></iframe>",
            "<form action=\"https://evil.test\"><input name=p></form>",
            "<meta http-equiv=\"refresh\" content=\"0;url=https://evil.test\">",
            "<base href=\"https://evil.test/\">",
            "<object data=\"x.swf\"></object><embed src=x.swf>",
            "<div style=\"width: expression(alert(1))\">x</div>",
            "<div style=\"background:url(javascript:alert(1))\">x</div>",
            "<div style=\"-moz-binding:url(https://evil.test/x.xml#x)\">x</div>",
            "<style>@import 'https://evil.test/x.css';</style>",
            "<link rel=stylesheet href=https://evil.test/x.css>",
            "<body onload=alert(1)>x</body>",
            "<img src=\"data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+\">",
            "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
            "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">",
            "<details open ontoggle=alert(1)>",
            "<video><source onerror=alert(1)></video>",
            // what a raw prefix check would miss: the browser drops tabs and
            // newlines in URLs, and decodes CSS escapes
            "<a href=\"da&#9;ta:text/html,&lt;script&gt;alert(1)&lt;/script&gt;\">x</a>",
            "<a href=\"&#x20;&#x0A;data:text/html,x\">x</a>",
            "<a href=\"java&#10;script:alert(1)\">x</a>",
            "<img src=\"da&#x0A;ta:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+\">",
            "<img src=\"data:image/png&#9;,x\" onerror=alert(1)>",
            "<div style=\"width: ex/**/pression(alert(1))\">x</div>",
            "<div style=\"width: \\65 xpression(alert(1))\">x</div>",
            "<div style=\"background: url(jav\\61 script:alert(1))\">x</div>",
        ];
        for v in vectors {
            let out = clean(v).html.to_ascii_lowercase();
            for bad in [
                "<script",
                "onerror",
                "onload",
                "ontoggle",
                "javascript:",
                "<iframe",
                "<form",
                "<input",
                "<meta",
                "<base",
                "<object",
                "<embed",
                "expression(",
                "<style",
                "<link",
                "-moz-binding",
                "evil.test",
                "data:text",
                "image/svg",
            ] {
                assert!(!out.contains(bad), "{v:?} gave {out:?} (contains {bad:?})");
            }
        }
    }

    #[test]
    fn remote_images_are_blocked_and_counted_until_allowed() {
        let html = "<p>Hi</p><img src=\"https://tracker.test/pixel.gif\" width=1>\
                    <div style=\"background-image:url(https://tracker.test/bg.png)\">x</div>\
                    <img src=\"//tracker.test/p2.gif\">";
        let blocked = clean(html);
        assert_eq!(blocked.remote_blocked, 3);
        assert!(!blocked.html.contains("tracker.test"), "{}", blocked.html);
        assert!(blocked.html.contains("<p>Hi</p>"));
        let allowed = sanitize(html, "/mail/m/7/cid/", true);
        // protocol-relative stays blocked (it would follow our own scheme)
        assert_eq!(allowed.remote_blocked, 1);
        assert!(allowed.html.contains("https://tracker.test/pixel.gif"));
        assert!(allowed.html.contains("bg.png"));
        // protocol-relative never passes (it would follow our own scheme)
        assert!(!allowed.html.contains("p2.gif"));
    }

    #[test]
    fn cid_images_point_at_the_message_and_links_are_safe() {
        let out = clean(
            "<img src=\"cid:logo@mail.test\" alt=logo><img src=\"cid:a b/../../x\">\
             <a href=\"https://example.test/\">site</a><img src=\"/logout\"><a href=\"/mail/m/9/raw\">r</a>",
        )
        .html;
        assert!(
            out.contains("src=\"/mail/m/7/cid/logo@mail%2Etest\""),
            "{out}"
        );
        assert!(
            out.contains("/mail/m/7/cid/a%20b%2F%2E%2E%2F%2E%2E%2Fx"),
            "{out}"
        );
        assert!(out.contains("target=\"_blank\""), "{out}");
        assert!(
            out.contains("rel=\"noopener noreferrer nofollow\""),
            "{out}"
        );
        assert!(!out.contains("/logout"), "{out}");
        assert!(!out.contains("/mail/m/9/raw"), "{out}");
    }

    #[test]
    fn escaped_spellings_load_nothing_remote() {
        for html in [
            "<div style=\"background:\\75 rl(https://evil.test/a.png)\">x</div>",
            "<div style=\"background:u\\rl(https://evil.test/a.png)\">x</div>",
            "<div style=\"background:U/**/RL(https://evil.test/a.png)\">x</div>",
            "<div style=\"background:image-\\73 et(https://evil.test/a.png 1x)\">x</div>",
            "<img src=\"ht&#9;tps://evil.test/a.png\">",
            "<img src=\"/&#92;evil.test/a.png\">",
            "<img src=\" //evil.test/a.png\">",
        ] {
            let out = clean(html);
            assert!(!out.html.contains("evil.test"), "{html}: {}", out.html);
            assert_eq!(out.remote_blocked, 1, "{html}: counted");
        }
    }

    #[test]
    fn links_back_into_the_service_stay_within_the_messages_parts() {
        let out = clean(
            "<a href=\"/mail/m/7/cid/%2e%2e/%2e%2e/9/raw\">a</a>\
             <a href=\"/mail/m/7/cid/%2E%2E%2F%2E%2E/9/raw\">b</a>\
             <a href=\"/mail/m/7/cid/..\\..\\9\\raw\">c</a>\
             <img src=\"c&#9;id:logo@x\">",
        )
        .html;
        // `..` spelt %2e%2e or with backslashes climbs out: dropped
        assert_eq!(out.matches("href").count(), 1, "{out}");
        // an escaped slash is no separator: this one stays under the
        // message's parts (where nothing has that name)
        assert!(
            out.contains("href=\"/mail/m/7/cid/%2E%2E%2F%2E%2E/9/raw\""),
            "{out}"
        );
        assert!(out.contains("src=\"/mail/m/7/cid/logo@x\""), "{out}");
    }

    #[test]
    fn inline_raster_images_and_plain_styles_are_kept() {
        let out = clean(
            "<img src=\"data:image/png;base64,iVBORw0KGgo=\"><p style=\"color: red; position: fixed\">x</p>",
        )
        .html;
        assert!(out.contains("data:image/png"), "{out}");
        assert!(out.contains("color"), "{out}");
        assert!(!out.contains("position"), "{out}");
    }
}
