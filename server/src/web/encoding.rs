//! Content codings: which one a client accepts (`Accept-Encoding`,
//! RFC 9110 §12.5.3), and the middleware that compresses the pages.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, ContentEncoding, HeaderMap};
use actix_web::middleware::Next;

/// The codings we send, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Brotli,
    Gzip,
    Identity,
}

impl Coding {
    /// Its name in `Content-Encoding` and in a precompressed file's suffix.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Brotli => "br",
            Coding::Gzip => "gzip",
            Coding::Identity => "identity",
        }
    }
}

/// Does the request accept `coding`? A coding named with `q=0`, or
/// absent when `*` is not accepted, is refused; identity is accepted
/// unless refused by name or by `*;q=0`.
pub fn accepts(headers: &HeaderMap, coding: Coding) -> bool {
    let mut named = None;
    let mut star = None;
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| {
                    let p = p.trim();
                    p.strip_prefix("q=").or_else(|| p.strip_prefix("Q="))
                })
                .filter_map(|q| q.trim().parse::<f32>().ok())
                .next_back()
                .unwrap_or(1.0);
            let ok = q > 0.0;
            let is = name == coding.token() || (coding == Coding::Gzip && name == "x-gzip");
            if is {
                named = Some(ok && named.unwrap_or(true));
            } else if name == "*" {
                star = Some(ok);
            }
        }
    }
    match (named, star) {
        (Some(ok), _) => ok,
        (None, Some(ok)) => ok,
        (None, None) => coding == Coding::Identity,
    }
}

/// The best of `offered` (best first) the request accepts; identity when
/// none is.
pub fn choose(headers: &HeaderMap, offered: &[Coding]) -> Coding {
    offered
        .iter()
        .copied()
        .find(|c| accepts(headers, *c))
        .unwrap_or(Coding::Identity)
}

/// Compress the HTML pages (brotli, else gzip) for clients that accept
/// it. Nothing else: the static files are sent precompressed
/// (`assets.rs`), and attachments, message bodies and downloads go as
/// they are (most are compressed already). A page shows its CSRF token
/// only masked with fresh randomness (`auth::token::mask_csrf`), so its
/// compressed length tells nothing about the token (BREACH).
pub async fn compress_pages(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let coding = choose(req.headers(), &[Coding::Brotli, Coding::Gzip]);
    let res = next.call(req).await?;
    let html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"));
    let encoding = match coding {
        Coding::Brotli => ContentEncoding::Brotli,
        Coding::Gzip => ContentEncoding::Gzip,
        Coding::Identity => ContentEncoding::Identity,
    };
    if !html {
        return Ok(res.map_into_left_body());
    }
    Ok(res.map_body(move |head, body| {
        // vary even when sent as is: a cache must not hand this copy to a
        // client that accepts another coding
        if encoding == ContentEncoding::Identity {
            head.headers.append(
                header::VARY,
                header::HeaderValue::from_static("accept-encoding"),
            );
        }
        EitherBody::right(actix_http::encoding::Encoder::response(
            encoding, head, body,
        ))
    }))
}

#[cfg(test)]
mod tests {
    use super::{accepts, choose, Coding};
    use actix_web::http::header::{HeaderMap, HeaderValue, ACCEPT_ENCODING};

    fn h(v: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(ACCEPT_ENCODING, HeaderValue::from_str(v).expect("header"));
        m
    }

    #[test]
    fn the_best_accepted_coding_is_chosen() {
        let all = [Coding::Brotli, Coding::Gzip, Coding::Identity];
        assert_eq!(choose(&h("gzip, deflate, br, zstd"), &all), Coding::Brotli);
        assert_eq!(choose(&h("gzip, deflate"), &all), Coding::Gzip);
        assert_eq!(choose(&h("br;q=0, gzip;q=0.5"), &all), Coding::Gzip);
        assert_eq!(choose(&h("*"), &all), Coding::Brotli);
        assert_eq!(choose(&h("*, br;q=0"), &all), Coding::Gzip);
        assert_eq!(choose(&h("x-gzip"), &all), Coding::Gzip);
        assert_eq!(choose(&h("identity"), &all), Coding::Identity);
        assert_eq!(choose(&HeaderMap::new(), &all), Coding::Identity);
        // only what is offered
        assert_eq!(choose(&h("br"), &[Coding::Gzip]), Coding::Identity);
        assert!(accepts(&HeaderMap::new(), Coding::Identity));
        assert!(!accepts(&h("identity;q=0"), Coding::Identity));
        assert!(!accepts(&h("*;q=0"), Coding::Identity));
        assert!(accepts(&h("BR ; q=1.0"), Coding::Brotli));
    }
}
