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

/// Does this CSS value load something or run something?
fn css_is_active(value: &str) -> bool {
    let v: String = value
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\\')
        .collect::<String>()
        .to_ascii_lowercase();
    v.contains("expression(")
        || v.contains("javascript:")
        || v.contains("behavior:")
        || v.contains("-moz-binding")
        || v.contains("@import")
}

fn css_loads_remote(value: &str) -> bool {
    let v = value.to_ascii_lowercase();
    v.contains("url(") || v.contains("image-set(")
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
            ("img", "src") => {
                let v = value.trim();
                let lower = v.to_ascii_lowercase();
                if lower.starts_with("cid:") {
                    Some(Cow::Owned(cid_url(&base, &v[4..])))
                } else if lower.starts_with("data:") {
                    // only raster images inline (an SVG could carry script)
                    let ok = [
                        "data:image/png",
                        "data:image/gif",
                        "data:image/jpeg",
                        "data:image/webp",
                    ]
                    .iter()
                    .any(|p| lower.starts_with(p));
                    ok.then_some(Cow::Borrowed(value))
                } else if lower.starts_with("http://")
                    || lower.starts_with("https://")
                    || lower.starts_with("//")
                {
                    if allow_remote && !lower.starts_with("//") {
                        Some(Cow::Borrowed(value))
                    } else {
                        counter.fetch_add(1, Ordering::Relaxed);
                        None
                    }
                } else {
                    None
                }
            }
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
            (_, "href") => {
                let lower = value.trim().to_ascii_lowercase();
                // data: and cid: are for images only
                (!lower.starts_with("data:") && !lower.starts_with("cid:"))
                    .then_some(Cow::Borrowed(value))
            }
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
        (url.starts_with(&self.0) && !url.contains("..")).then_some(Cow::Borrowed(url))
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
