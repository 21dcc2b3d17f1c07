//! TLS for the delivery client ([`super::client`]): the client
//! configurations (the web's roots, a private CA, or any certificate for
//! opportunistic TLS), the handshake, and the connection's byte stream,
//! plain or encrypted.

use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::quickack::QuickAck;

/// TLS client configurations, made once.
#[derive(Clone)]
pub struct TlsSetup {
    /// Certificates checked against the web's roots.
    pub verify: Arc<rustls::ClientConfig>,
    /// Anything accepted (RFC 7435: opportunistic TLS does not
    /// authenticate the peer; it only keeps passive eyes out).
    pub any: Arc<rustls::ClientConfig>,
}

impl TlsSetup {
    pub fn new() -> Result<TlsSetup, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verify = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(web_roots())
            .with_no_client_auth();
        let any = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth();
        Ok(TlsSetup {
            verify: Arc::new(verify),
            any: Arc::new(any),
        })
    }

    /// The configuration checking certificates against a private CA (in
    /// PEM) as well as the web's roots.
    pub fn with_ca(pem: &[u8]) -> Result<Arc<rustls::ClientConfig>, String> {
        use rustls_pki_types::pem::PemObject;
        let mut roots = web_roots();
        let mut n = 0;
        for cert in rustls_pki_types::CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| format!("the CA certificate cannot be read: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("the CA certificate is refused: {e}"))?;
            n += 1;
        }
        if n == 0 {
            return Err("the CA holds no certificate".into());
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Arc::new(config))
    }
}

fn web_roots() -> rustls::RootCertStore {
    rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

/// Accepts any certificate, but still checks that the server holds its
/// key (the handshake's signatures).
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls_pki_types::CertificateDer<'_>,
        _intermediates: &[rustls_pki_types::CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

pub(super) async fn handshake(
    tcp: QuickAck,
    name: &str,
    tls: &Arc<rustls::ClientConfig>,
    timeout: Duration,
) -> Result<tokio_rustls::client::TlsStream<QuickAck>, String> {
    let server_name = ServerName::try_from(name.to_string())
        .map_err(|e| format!("TLS: {name} is not a server name: {e}"))?;
    let connector = tokio_rustls::TlsConnector::from(tls.clone());
    tokio::time::timeout(timeout, connector.connect(server_name, tcp))
        .await
        .map_err(|_| "TLS handshake: timed out".to_string())?
        .map_err(|e| format!("TLS handshake: {e}"))
}

/// The connection's byte stream: plain TCP, or TLS over it.
pub(super) enum Stream {
    Plain(QuickAck),
    Tls(Box<tokio_rustls::client::TlsStream<QuickAck>>),
    /// Between the two, during STARTTLS.
    Upgrading,
}

impl AsyncRead for Stream {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => std::pin::Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => std::pin::Pin::new(s).poll_read(cx, buf),
            Stream::Upgrading => std::task::Poll::Ready(Err(upgrading())),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => std::pin::Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => std::pin::Pin::new(s).poll_write(cx, buf),
            Stream::Upgrading => std::task::Poll::Ready(Err(upgrading())),
        }
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => std::pin::Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => std::pin::Pin::new(s).poll_flush(cx),
            Stream::Upgrading => std::task::Poll::Ready(Err(upgrading())),
        }
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => std::pin::Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => std::pin::Pin::new(s).poll_shutdown(cx),
            Stream::Upgrading => std::task::Poll::Ready(Err(upgrading())),
        }
    }
}

fn upgrading() -> std::io::Error {
    std::io::Error::other("the connection failed during STARTTLS")
}
