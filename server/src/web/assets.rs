//! The front's static files (`pkg/`: the WASM, its JavaScript, the CSS,
//! and the WASM chunks of the pages loaded lazily with `__wasm_split.js`)
//! under a name that changes with their content, cached for a year and
//! sent precompressed.
//!
//! At start the files are read once and their SHA-256 names a version:
//! pages link `/pkg/<version>/continuity.wasm`, served with
//! `Cache-Control: public, max-age=31536000, immutable`, so a repeat visit
//! fetches none of them and a new build is fetched at once (every node of
//! one build has the same version). Brotli and gzip copies made at build
//! time (`scripts/compress-site`: `continuity.wasm.br`, `.gz`) are sent
//! to clients that accept them (`Vary: Accept-Encoding`); a copy older
//! than its file is ignored. A request for another version (a page from
//! before an upgrade) gets today's file, not to be kept.

use std::collections::HashMap;
use std::path::Path;

use actix_web::http::header::{self, HeaderValue};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};

use super::encoding::{choose, Coding};

/// The files served by version, with their content types.
const SERVED: [(&str, &str); 3] = [
    ("wasm", "application/wasm"),
    ("js", "text/javascript; charset=utf-8"),
    ("css", "text/css; charset=utf-8"),
];

/// One file and its precompressed copies.
#[derive(Debug)]
struct Asset {
    content_type: &'static str,
    identity: Bytes,
    brotli: Option<Bytes>,
    gzip: Option<Bytes>,
}

/// The versioned files of one site root.
#[derive(Debug, Default)]
pub struct Assets {
    /// Empty when there is no `pkg/` (pages then link `/pkg/` as is).
    version: String,
    files: HashMap<String, Asset>,
}

impl Assets {
    /// Read `site_root/pkg`. Missing or unreadable files are left out
    /// (logged); no `pkg/` at all is an empty set.
    pub fn load(site_root: &Path) -> Assets {
        let dir = site_root.join("pkg");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Assets::default();
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| content_type(n).is_some())
            .collect();
        names.sort();
        let mut files = HashMap::new();
        let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
        for name in names {
            let path = dir.join(&name);
            let identity = match std::fs::read(&path) {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "web asset not readable");
                    continue;
                }
            };
            digest.update(name.as_bytes());
            digest.update(&(identity.len() as u64).to_be_bytes());
            digest.update(&identity);
            let copy = |suffix: &str| precompressed(&path, suffix);
            let Some(content_type) = content_type(&name) else {
                continue;
            };
            files.insert(
                name,
                Asset {
                    content_type,
                    brotli: copy("br"),
                    gzip: copy("gz"),
                    identity: Bytes::from(identity),
                },
            );
        }
        if files.is_empty() {
            return Assets::default();
        }
        let version: String = digest
            .finish()
            .as_ref()
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect();
        Assets { version, files }
    }

    /// The directory pages link the files under: `pkg/<version>`, or
    /// `pkg` when there are none.
    pub fn pkg_dir(&self) -> String {
        if self.version.is_empty() {
            "pkg".into()
        } else {
            format!("pkg/{}", self.version)
        }
    }

    /// Files with a brotli copy, with a gzip copy, of all.
    pub fn counts(&self) -> (usize, usize, usize) {
        let br = self.files.values().filter(|a| a.brotli.is_some()).count();
        let gz = self.files.values().filter(|a| a.gzip.is_some()).count();
        (br, gz, self.files.len())
    }
}

fn content_type(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.')?.1;
    SERVED.iter().find(|(e, _)| *e == ext).map(|(_, t)| *t)
}

/// `path.suffix` if it is at least as new as `path`.
fn precompressed(path: &Path, suffix: &str) -> Option<Bytes> {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    let copy = Path::new(&name);
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let (Some(original), Some(made)) = (modified(path), modified(copy)) else {
        return None;
    };
    if made < original {
        tracing::warn!(file = %copy.display(), "precompressed copy older than its file: not used");
        return None;
    }
    std::fs::read(copy).ok().map(Bytes::from)
}

/// `GET /pkg/{version}/{file}`.
pub async fn serve(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    assets: web::Data<Assets>,
) -> HttpResponse {
    let (version, name) = path.into_inner();
    let Some(asset) = assets.files.get(&name) else {
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("Not found");
    };
    let mut offered = Vec::with_capacity(2);
    if asset.brotli.is_some() {
        offered.push(Coding::Brotli);
    }
    if asset.gzip.is_some() {
        offered.push(Coding::Gzip);
    }
    let coding = choose(req.headers(), &offered);
    let body = match coding {
        Coding::Brotli => asset.brotli.clone(),
        Coding::Gzip => asset.gzip.clone(),
        Coding::Identity => None,
    }
    .unwrap_or_else(|| asset.identity.clone());
    let mut res = HttpResponse::Ok();
    res.insert_header((header::CONTENT_TYPE, asset.content_type))
        .insert_header((header::VARY, "accept-encoding"))
        .insert_header((
            header::CACHE_CONTROL,
            if version == assets.version {
                "public, max-age=31536000, immutable"
            } else {
                "no-cache"
            },
        ));
    if coding != Coding::Identity {
        res.insert_header((
            header::CONTENT_ENCODING,
            HeaderValue::from_static(coding.token()),
        ));
    }
    res.body(body)
}

#[cfg(test)]
mod tests {
    use super::{serve, Assets};
    use crate::store::testing::Scratch;
    use actix_web::http::header;
    use actix_web::{test, web, App};

    #[actix_web::test]
    async fn files_go_by_version_precompressed_and_cached_for_a_year() {
        let site = Scratch::new("assets");
        let pkg = site.path().join("pkg");
        std::fs::create_dir_all(&pkg).expect("pkg");
        std::fs::write(pkg.join("continuity.wasm"), b"\0asm-the-module").expect("wasm");
        std::fs::write(pkg.join("continuity.js"), b"export default 1;").expect("js");
        std::fs::write(pkg.join("continuity.d.ts"), b"declare").expect("d.ts");
        std::fs::write(pkg.join("continuity.css"), b"body{}").expect("css");
        // the copies are written after their file, as the build does
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(pkg.join("continuity.wasm.br"), b"BROTLI").expect("br");
        std::fs::write(pkg.join("continuity.wasm.gz"), b"GZIP").expect("gz");
        // a stale copy: older than the file it was made from
        std::fs::write(pkg.join("continuity.css.br"), b"STALE").expect("stale");
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(pkg.join("continuity.css"), b"body{color:red}").expect("css");

        let assets = Assets::load(site.path());
        assert_eq!(assets.counts(), (1, 1, 3), "{assets:?}");
        let dir = assets.pkg_dir();
        assert!(dir.starts_with("pkg/") && dir.len() == 4 + 16, "{dir}");
        // the same content, the same version (every node of one build)
        assert_eq!(Assets::load(site.path()).pkg_dir(), dir);
        let app = test::init_service(
            App::new()
                .app_data(web::Data::new(assets))
                .route("/pkg/{version}/{file}", web::get().to(serve)),
        )
        .await;
        let get = |path: String, accept: Option<&'static str>| {
            let mut r = test::TestRequest::get().uri(&path);
            if let Some(a) = accept {
                r = r.insert_header((header::ACCEPT_ENCODING, a));
            }
            r.to_request()
        };
        let hdr = |res: &actix_web::dev::ServiceResponse, h: header::HeaderName| {
            res.headers()
                .get(h)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        for (accept, coding, body) in [
            (Some("gzip, deflate, br, zstd"), "br", &b"BROTLI"[..]),
            (Some("gzip"), "gzip", b"GZIP"),
            (Some("br;q=0, gzip;q=0"), "", b"\0asm-the-module"),
            (None, "", b"\0asm-the-module"),
        ] {
            let res =
                test::call_service(&app, get(format!("/{dir}/continuity.wasm"), accept)).await;
            assert_eq!(res.status(), 200);
            assert_eq!(hdr(&res, header::CONTENT_ENCODING), coding, "{accept:?}");
            assert_eq!(hdr(&res, header::CONTENT_TYPE), "application/wasm");
            assert_eq!(hdr(&res, header::VARY), "accept-encoding");
            assert_eq!(
                hdr(&res, header::CACHE_CONTROL),
                "public, max-age=31536000, immutable"
            );
            assert_eq!(test::read_body(res).await, body);
        }
        // the stale brotli copy of the CSS is not sent
        let res = test::call_service(&app, get(format!("/{dir}/continuity.css"), Some("br"))).await;
        assert_eq!(hdr(&res, header::CONTENT_ENCODING), "");
        assert_eq!(test::read_body(res).await, &b"body{color:red}"[..]);
        // another version: today's file, not to be kept
        let res = test::call_service(
            &app,
            get("/pkg/0123456789abcdef/continuity.js".into(), None),
        )
        .await;
        assert_eq!(res.status(), 200);
        assert_eq!(hdr(&res, header::CACHE_CONTROL), "no-cache");
        assert_eq!(test::read_body(res).await, &b"export default 1;"[..]);
        // only the front's files
        for path in [
            format!("/{dir}/continuity.d.ts"),
            format!("/{dir}/continuity.wasm.br"),
            format!("/{dir}/..%2Fcontinuity.wasm"),
        ] {
            let res = test::call_service(&app, get(path.clone(), None)).await;
            assert_eq!(res.status(), 404, "{path}");
        }
        // no pkg/: pages link /pkg/ as before
        let empty = Scratch::new("assets-none");
        assert_eq!(Assets::load(empty.path()).pkg_dir(), "pkg");
    }
}
