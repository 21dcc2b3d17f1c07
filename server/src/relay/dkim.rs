//! DKIM (RFC 6376) for mail we send on a domain's behalf: key generation,
//! the DNS record to publish, and signing with mail-auth. Pure: the keys
//! come from and go to the store.
//!
//! RSA-SHA256 (2048 bits by default) is what every verifier checks;
//! Ed25519-SHA256 (RFC 8463) is offered too. The public key is published as
//! a SubjectPublicKeyInfo, the form OpenDKIM and others expect.

use base64::Engine;
use mail_auth::common::crypto::{Ed25519Key, RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::{DkimSigner, Done};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer};

/// The signing algorithm of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    RsaSha256,
    Ed25519Sha256,
}

impl Algorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::RsaSha256 => "rsa-sha256",
            Algorithm::Ed25519Sha256 => "ed25519-sha256",
        }
    }
    /// The `k=` tag of the DNS record.
    pub fn key_type(self) -> &'static str {
        match self {
            Algorithm::RsaSha256 => "rsa",
            Algorithm::Ed25519Sha256 => "ed25519",
        }
    }
}

impl std::str::FromStr for Algorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "rsa" | "rsa-sha256" => Ok(Algorithm::RsaSha256),
            "ed25519" | "ed25519-sha256" => Ok(Algorithm::Ed25519Sha256),
            other => Err(format!("unknown DKIM algorithm {other:?} (rsa, ed25519)")),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DkimError {
    #[error("RSA keys must be 1024 to 4096 bits (2048 is the norm)")]
    Bits,
    #[error("cannot make a key: {0}")]
    Generate(String),
    #[error("the stored key cannot be used: {0}")]
    BadKey(String),
    #[error("cannot sign: {0}")]
    Sign(String),
}

/// A new key: the private half (PKCS#1 DER for RSA, PKCS#8 for Ed25519) to
/// keep, the public half (base64, the record's `p=`) to publish.
pub struct NewKey {
    pub private_der: Vec<u8>,
    pub public_b64: String,
}

pub fn generate(algorithm: Algorithm, bits: usize) -> Result<NewKey, DkimError> {
    use mail_auth::dkim::generate::DkimKeyPair;
    let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
    match algorithm {
        Algorithm::RsaSha256 => {
            if !(1024..=4096).contains(&bits) {
                return Err(DkimError::Bits);
            }
            let pair =
                DkimKeyPair::generate_rsa(bits).map_err(|e| DkimError::Generate(e.to_string()))?;
            let spki = rsa_spki(pair.public_key())?;
            Ok(NewKey {
                private_der: pair.private_key().to_vec(),
                public_b64: b64(&spki),
            })
        }
        Algorithm::Ed25519Sha256 => {
            let pair =
                DkimKeyPair::generate_ed25519().map_err(|e| DkimError::Generate(e.to_string()))?;
            // RFC 8463 §4.2: the raw 32-byte key
            Ok(NewKey {
                private_der: pair.private_key().to_vec(),
                public_b64: b64(pair.public_key()),
            })
        }
    }
}

/// PKCS#1 RSAPublicKey → SubjectPublicKeyInfo (DER).
fn rsa_spki(pkcs1: &[u8]) -> Result<Vec<u8>, DkimError> {
    use rsa::pkcs1::DecodeRsaPublicKey;
    use rsa::pkcs8::EncodePublicKey;
    let key =
        rsa::RsaPublicKey::from_pkcs1_der(pkcs1).map_err(|e| DkimError::Generate(e.to_string()))?;
    key.to_public_key_der()
        .map(|d| d.as_bytes().to_vec())
        .map_err(|e| DkimError::Generate(e.to_string()))
}

/// A selector naming the key by its month, e.g. cty202612 (a second key
/// the same month gets a suffix).
pub fn default_selector(existing: &[String]) -> String {
    let now = time::OffsetDateTime::now_utc();
    let base = format!("cty{:04}{:02}", now.year(), u8::from(now.month()));
    if !existing.contains(&base) {
        return base;
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|s| !existing.contains(s))
        .unwrap_or(base)
}

/// The TXT record's text (`v=DKIM1; k=…; p=…`).
pub fn record_text(algorithm: Algorithm, public_b64: &str) -> String {
    format!("v=DKIM1; k={}; p={public_b64}", algorithm.key_type())
}

/// What DNS publishes for a key, compared with ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// A DKIM record with our public key.
    Matches,
    /// A DKIM record with another key (an old one, or a typing mistake).
    Different,
    /// A DKIM record with an empty key: revoked (RFC 6376 §3.6.1).
    Revoked,
    /// No DKIM record at that name.
    Missing,
}

/// Compare the TXT records found at `selector._domainkey.domain` with our
/// public key (whitespace inside a published value is ignored, as
/// verifiers do).
pub fn check_published(records: &[String], public_b64: &str) -> Published {
    let mut found = Published::Missing;
    for r in records {
        let mut p = None;
        let mut dkim = true;
        for tag in r.split(';') {
            let Some((name, value)) = tag.split_once('=') else {
                continue;
            };
            let value: String = value.chars().filter(|c| !c.is_whitespace()).collect();
            match name.trim() {
                "v" if value != "DKIM1" => dkim = false,
                "p" => p = Some(value),
                _ => {}
            }
        }
        let (true, Some(p)) = (dkim, p) else {
            continue;
        };
        if p == public_b64 {
            return Published::Matches;
        }
        found = if p.is_empty() {
            Published::Revoked
        } else {
            Published::Different
        };
    }
    found
}

/// The record as a zone-file line, its text cut into strings of at most
/// 255 characters (RFC 1035 §3.3.14; resolvers join them).
pub fn zone_line(selector: &str, domain: &str, algorithm: Algorithm, public_b64: &str) -> String {
    let text = record_text(algorithm, public_b64);
    let chunks: Vec<String> = text
        .as_bytes()
        .chunks(255)
        .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
        .collect();
    format!(
        "{selector}._domainkey.{domain}. IN TXT ( {} )",
        chunks.join(" ")
    )
}

/// The header fields signed when present. From is required (RFC 6376
/// §5.4); the ones that change the meaning of a message come with it.
pub const SIGNED_HEADERS: [&str; 13] = [
    "From",
    "Reply-To",
    "Subject",
    "Date",
    "To",
    "Cc",
    "Message-ID",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "Sender",
];

/// A key ready to sign for one domain and selector (parsing an RSA key is
/// the costly part: keep one and sign many messages with it).
pub enum Signer {
    Rsa(DkimSigner<RsaKey<Sha256>, Done>),
    Ed25519(DkimSigner<Ed25519Key, Done>),
}

impl Signer {
    pub fn new(
        domain: &str,
        selector: &str,
        algorithm: Algorithm,
        private_der: &[u8],
    ) -> Result<Signer, DkimError> {
        Ok(match algorithm {
            Algorithm::RsaSha256 => {
                let der = PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(private_der.to_vec()));
                let key = RsaKey::<Sha256>::from_key_der(der)
                    .or_else(|_| {
                        RsaKey::<Sha256>::from_key_der(PrivateKeyDer::Pkcs8(
                            PrivatePkcs8KeyDer::from(private_der.to_vec()),
                        ))
                    })
                    .map_err(|e| DkimError::BadKey(e.to_string()))?;
                Signer::Rsa(
                    DkimSigner::from_key(key)
                        .domain(domain)
                        .selector(selector)
                        .headers(SIGNED_HEADERS),
                )
            }
            Algorithm::Ed25519Sha256 => {
                let key = Ed25519Key::from_pkcs8_der(private_der)
                    .map_err(|e| DkimError::BadKey(e.to_string()))?;
                Signer::Ed25519(
                    DkimSigner::from_key(key)
                        .domain(domain)
                        .selector(selector)
                        .headers(SIGNED_HEADERS),
                )
            }
        })
    }

    /// The `DKIM-Signature:` header field (ending in CRLF) for `message`;
    /// put it in front.
    pub fn header(&self, message: &[u8]) -> Result<String, DkimError> {
        let sig = match self {
            Signer::Rsa(s) => s.sign(message),
            Signer::Ed25519(s) => s.sign(message),
        };
        sig.map(|s| s.to_header())
            .map_err(|e| DkimError::Sign(e.to_string()))
    }
}

/// The `DKIM-Signature:` header field (ending in CRLF) for `message`,
/// signed for `domain` with the key under `selector`; put it in front.
pub fn signature(
    message: &[u8],
    domain: &str,
    selector: &str,
    algorithm: Algorithm,
    private_der: &[u8],
) -> Result<String, DkimError> {
    Signer::new(domain, selector, algorithm, private_der)?.header(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_auth::DkimResult;

    #[test]
    fn selectors_name_the_month() {
        let s = default_selector(&[]);
        assert!(s.starts_with("cty") && s.len() == 9, "{s}");
        assert_eq!(default_selector(std::slice::from_ref(&s)), format!("{s}-2"));
    }

    #[test]
    fn published_records_are_compared_with_ours() {
        use super::Published as P;
        let ours = "MCowBQYDK2VwAyEAabc";
        let rec = |s: &str| vec![s.to_string()];
        assert_eq!(
            check_published(&rec("v=DKIM1; k=ed25519; p=MCowBQYDK2VwAyEAabc"), ours),
            P::Matches
        );
        assert_eq!(
            check_published(&rec("v=DKIM1;k=ed25519;p=MCowBQYD K2VwAyEA abc"), ours),
            P::Matches
        );
        assert_eq!(
            check_published(&rec("v=DKIM1; k=rsa; p=MIIBIjAN"), ours),
            P::Different
        );
        assert_eq!(check_published(&rec("v=DKIM1; p="), ours), P::Revoked);
        assert_eq!(check_published(&rec("v=spf1 -all"), ours), P::Missing);
        assert_eq!(check_published(&[], ours), P::Missing);
        assert_eq!(
            check_published(
                &[
                    "v=DKIM1; p=old".into(),
                    "v=DKIM1; p=MCowBQYDK2VwAyEAabc".into()
                ],
                ours
            ),
            P::Matches
        );
    }
    const MSG: &[u8] = b"From: Alice <alice@example.test>\r\nTo: bob@remote.test\r\n\
Subject: signed\r\nDate: Wed, 02 Dec 2026 10:00:00 +0000\r\nMessage-ID: <s1@example.test>\r\n\
MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello Bob.\r\n";

    async fn verify(message: &[u8], selector: &str, record: &str) -> DkimResult {
        super::super::testing::verify_dkim(message, "example.test", selector, record).await
    }

    #[tokio::test]
    async fn issue_6_rsa_and_ed25519_signatures_verify_and_a_change_breaks_them() {
        for (alg, bits) in [(Algorithm::RsaSha256, 2048), (Algorithm::Ed25519Sha256, 0)] {
            let key = generate(alg, bits).unwrap();
            let record = record_text(alg, &key.public_b64);
            let header = signature(MSG, "example.test", "s1", alg, &key.private_der).unwrap();
            assert!(header.starts_with("DKIM-Signature:"), "{header}");
            assert!(header.ends_with("\r\n"));
            assert!(header.contains("d=example.test") && header.contains("s=s1"));
            let mut signed = header.clone().into_bytes();
            signed.extend_from_slice(MSG);
            assert_eq!(
                verify(&signed, "s1", &record).await,
                DkimResult::Pass,
                "{alg:?}"
            );
            // a changed body or subject fails
            let tampered = String::from_utf8(signed.clone())
                .unwrap()
                .replace("Hello Bob.", "Pay me.");
            let r = verify(tampered.as_bytes(), "s1", &record).await;
            assert!(
                matches!(r, DkimResult::Neutral(_) | DkimResult::Fail(_)),
                "{r:?}"
            );
            let tampered = String::from_utf8(signed)
                .unwrap()
                .replace("Subject: signed", "Subject: urgent");
            let r = verify(tampered.as_bytes(), "s1", &record).await;
            assert!(matches!(r, DkimResult::Fail(_)), "{r:?}");
        }
    }

    #[test]
    fn the_zone_line_splits_long_records() {
        let key = generate(Algorithm::RsaSha256, 2048).unwrap();
        let line = zone_line(
            "cty1",
            "example.test",
            Algorithm::RsaSha256,
            &key.public_b64,
        );
        assert!(line.starts_with("cty1._domainkey.example.test. IN TXT ( \"v=DKIM1; k=rsa; p="));
        let strings: Vec<&str> = line.split('"').skip(1).step_by(2).collect();
        assert!(strings.len() >= 2 && strings.iter().all(|s| s.len() <= 255));
        assert_eq!(
            strings.concat(),
            record_text(Algorithm::RsaSha256, &key.public_b64)
        );
        assert!(generate(Algorithm::RsaSha256, 512).is_err());
        assert!("dsa".parse::<Algorithm>().is_err());
    }
}
