//! The HTML sanitizer, with a property checked on everything it lets out:
//! no executable construct — no script, frame, form, object, style or
//! meta element, no event handler, no javascript:/vbscript:/data:
//! navigation, no inline SVG image — and, unless the user allowed remote
//! content, nothing that loads from elsewhere (images, CSS url()).
//! The output is read here with a tokenizer of its own (html5ever's
//! serialisation: text escapes `<`, attribute values are double-quoted and
//! escape `"`), and CSS and URLs are decoded as a browser would, so that a
//! spelling the sanitizer misses cannot hide from the check.
#![no_main]

use libfuzzer_sys::fuzz_target;
use server::web::sanitize::sanitize;

const BASE: &str = "/mail/m/7/cid/";

fn entities(v: &str) -> String {
    let mut out = String::new();
    let mut rest = v;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let end = tail.find(';').filter(|&e| e <= 10);
        match end.map(|e| &tail[1..e]) {
            Some("amp") => out.push('&'),
            Some("quot") => out.push('"'),
            Some("lt") => out.push('<'),
            Some("gt") => out.push('>'),
            Some("nbsp") => out.push('\u{a0}'),
            Some(n) if n.starts_with("#x") || n.starts_with("#X") => out.extend(
                u32::from_str_radix(&n[2..], 16)
                    .ok()
                    .and_then(char::from_u32),
            ),
            Some(n) if n.starts_with('#') => {
                out.extend(n[1..].parse::<u32>().ok().and_then(char::from_u32))
            }
            _ => {
                out.push('&');
                rest = &tail[1..];
                continue;
            }
        }
        rest = &tail[end.unwrap_or(0) + 1..];
    }
    out.push_str(rest);
    out
}

/// CSS as the browser tokenizes it: comments gone, escapes decoded.
fn css(v: &str) -> String {
    let mut out = String::new();
    let c: Vec<char> = v.chars().collect();
    let mut i = 0;
    while i < c.len() {
        if c[i] == '/' && c.get(i + 1) == Some(&'*') {
            i += 2;
            while i < c.len() && !(c[i] == '*' && c.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i += 2;
            continue;
        }
        if c[i] == '\\' {
            let mut j = i + 1;
            let mut hex = String::new();
            while j < c.len() && hex.len() < 6 && c[j].is_ascii_hexdigit() {
                hex.push(c[j]);
                j += 1;
            }
            if hex.is_empty() {
                if let Some(&n) = c.get(j) {
                    if n != '\n' {
                        out.push(n);
                    }
                }
                i = j + 1;
            } else {
                if c.get(j).is_some_and(|w| w.is_whitespace()) {
                    j += 1;
                }
                out.extend(u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32));
                i = j;
            }
            continue;
        }
        if !c[i].is_whitespace() {
            out.extend(c[i].to_lowercase());
        }
        i += 1;
    }
    out
}

fn browser_url(v: &str) -> String {
    v.trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect()
}

fn check_url(tag: &str, attr: &str, value: &str, allow_remote: bool, html: &str) {
    let v = browser_url(value);
    match url::Url::parse(&v) {
        Ok(u) => {
            let scheme = u.scheme();
            let ok = match (tag, attr, scheme) {
                (_, "href", "http" | "https" | "mailto") => true,
                ("img", "src", "http" | "https") => allow_remote,
                ("img", "src", "data") => {
                    let media = v[5..].split([';', ',']).next().unwrap_or("").to_ascii_lowercase();
                    ["image/png", "image/gif", "image/jpeg", "image/webp"].contains(&media.trim())
                }
                _ => false,
            };
            assert!(ok, "{tag} {attr}={value:?} let out of {html:?}");
        }
        Err(_) => {
            // relative: never to another host, and only under the message's parts
            let resolved = url::Url::parse("https://continuity.invalid/")
                .and_then(|b| b.join(&v))
                .expect("relative URL resolves");
            assert_eq!(resolved.host_str(), Some("continuity.invalid"), "{value:?} in {html:?}");
            assert!(
                resolved.path().starts_with(BASE),
                "{tag} {attr}={value:?} leaves the message's parts in {html:?}"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let allow_remote = mode & 1 == 1;
    let input = String::from_utf8_lossy(rest);
    let out = sanitize(&input, BASE, allow_remote).html;
    let b = out.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'<' {
            i += 1;
            continue;
        }
        i += 1;
        let closing = b.get(i) == Some(&b'/');
        if closing {
            i += 1;
        }
        let start = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'-' || b[i] == b':') {
            i += 1;
        }
        let tag = out[start..i].to_ascii_lowercase();
        assert!(!tag.is_empty() || b.get(i) == Some(&b'!'), "a raw < in {out:?}");
        for bad in [
            "script", "iframe", "frame", "frameset", "object", "embed", "applet", "form", "input",
            "button", "textarea", "select", "style", "link", "meta", "base", "svg", "math",
            "template", "noscript", "portal",
        ] {
            assert_ne!(tag, bad, "<{tag}> let out: {out:?}");
        }
        // attributes until '>'
        loop {
            while i < b.len() && b[i] == b' ' {
                i += 1;
            }
            if i >= b.len() || b[i] == b'>' || b[i] == b'/' {
                break;
            }
            let n0 = i;
            while i < b.len() && !matches!(b[i], b'=' | b' ' | b'>') {
                i += 1;
            }
            let name = out[n0..i].to_ascii_lowercase();
            let mut value = String::new();
            if b.get(i) == Some(&b'=') && b.get(i + 1) == Some(&b'"') {
                let v0 = i + 2;
                let v1 = v0 + out[v0..].find('"').expect("closed attribute value");
                value = entities(&out[v0..v1]);
                i = v1 + 1;
            }
            assert!(!name.starts_with("on"), "handler {name} let out: {out:?}");
            for bad in ["formaction", "srcdoc", "xlink:href", "srcset", "action", "background", "poster", "data"] {
                assert_ne!(name, bad, "{name} let out: {out:?}");
            }
            match name.as_str() {
                "href" | "src" => check_url(&tag, &name, &value, allow_remote, &out),
                "style" => {
                    let c = css(&value);
                    for bad in ["expression(", "javascript:", "vbscript:", "@import", "behavior:", "-moz-binding"] {
                        assert!(!c.contains(bad), "style {value:?} let out: {out:?}");
                    }
                    if !allow_remote {
                        for load in ["url(", "image-set(", "src("] {
                            assert!(!c.contains(load), "remote CSS {value:?} let out: {out:?}");
                        }
                    }
                }
                _ => {}
            }
        }
    }
});
