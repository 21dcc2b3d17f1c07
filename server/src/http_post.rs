//! One HTTP POST over our own TCP and TLS (hyper's HTTP/1.1 client,
//! tokio-rustls with the webpki roots): what the outage webhooks and the
//! SMS gateway send. A leaf: callers sign and retry.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::Uri;
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;

/// The TLS client settings: the public web's roots.
pub fn client_tls() -> Arc<rustls::ClientConfig> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
        .unwrap_or_else(|_| {
            rustls::ClientConfig::builder()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth()
        });
    Arc::new(tls)
}

/// What to post.
pub struct Post<'a> {
    pub uri: &'a Uri,
    /// Where to connect, when the caller resolved and checked it already;
    /// else the URL's host.
    pub addrs: Option<Vec<SocketAddr>>,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// POST; the answer's status (its body read, bounded, and dropped).
pub async fn post(
    tls: &Arc<rustls::ClientConfig>,
    p: Post<'_>,
) -> Result<hyper::StatusCode, String> {
    let uri = p.uri;
    let https = uri.scheme_str() == Some("https");
    let host = uri.host().unwrap_or_default().to_string();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let bare = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let tcp = match &p.addrs {
        Some(addrs) => TcpStream::connect(&addrs[..]).await,
        None => TcpStream::connect((bare.as_str(), port)).await,
    }
    .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or_default();
    let mut req = hyper::Request::post(path).header(hyper::header::HOST, authority);
    for (name, value) in &p.headers {
        req = req.header(name.as_str(), value.as_str());
    }
    let req = req
        .body(Full::new(Bytes::from(p.body)))
        .map_err(|e| e.to_string())?;
    if https {
        let name = ServerName::try_from(bare.clone())
            .map_err(|_| format!("not a valid TLS name: {bare}"))?;
        let tls = tokio_rustls::TlsConnector::from(tls.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS with {host}: {e}"))?;
        send(TokioIo::new(tls), req).await
    } else {
        send(TokioIo::new(tcp), req).await
    }
}

async fn send<T>(io: T, req: hyper::Request<Full<Bytes>>) -> Result<hyper::StatusCode, String>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    let driver = tokio::spawn(conn);
    let res = sender.send_request(req).await.map_err(|e| e.to_string());
    let out = match res {
        Ok(r) => {
            let status = r.status();
            // read (and drop) a bounded answer so the connection ends cleanly
            let _ = tokio::time::timeout(Duration::from_secs(2), r.into_body().collect()).await;
            Ok(status)
        }
        Err(e) => Err(e),
    };
    driver.abort();
    out
}
