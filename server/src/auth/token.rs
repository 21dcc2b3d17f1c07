//! Random secrets and signed, single-use set-password links.
//!
//! A link token is `base64url(id ‖ expires_at ‖ secret) "." base64url(HMAC)`:
//! the HMAC-SHA256 (server key) catches any tampering before the database is
//! asked; the database keeps only SHA-256(secret), the expiry and whether the
//! link was used, which makes it single-use and lets a newer link supersede
//! an older one.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};
use ring::{digest, hmac};

/// Bytes of randomness in a session id, a CSRF token or a link secret.
pub const SECRET_LEN: usize = 32;

/// Fresh random bytes from the OS.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    // SystemRandom only fails if the OS has no entropy source at all; there
    // is no safe way to go on without one.
    SystemRandom::new()
        .fill(&mut out)
        .expect("the operating system's random number generator failed");
    out
}

/// A random token as URL-safe text (session ids, CSRF tokens).
pub fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<SECRET_LEN>())
}

pub fn sha256(data: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA256, data).as_ref().to_vec()
}

/// Constant-time equality for secrets given by a client.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A CSRF token as a page shows it: a fresh random pad and the token
/// XORed with it (base64url). Each page carries different bytes, so a
/// compressed page's length tells nothing about the token (BREACH).
pub fn mask_csrf(token: &str) -> String {
    let t = token.as_bytes();
    let mut out = vec![0u8; 2 * t.len()];
    let (pad, masked) = out.split_at_mut(t.len());
    // see random_bytes: no safe way on without the OS's randomness
    SystemRandom::new()
        .fill(pad)
        .expect("the operating system's random number generator failed");
    for ((m, p), x) in masked.iter_mut().zip(pad.iter()).zip(t) {
        *m = p ^ x;
    }
    URL_SAFE_NO_PAD.encode(out)
}

/// Does `given` carry the session's CSRF `token`, masked by
/// [`mask_csrf`] or as it is? Constant time in the token.
pub fn csrf_matches(token: &str, given: &str) -> bool {
    if given.len() == token.len() {
        return same(token.as_bytes(), given.as_bytes());
    }
    let Ok(raw) = URL_SAFE_NO_PAD.decode(given) else {
        return false;
    };
    if raw.len() != 2 * token.len() {
        return false;
    }
    let (pad, masked) = raw.split_at(token.len());
    let unmasked: Vec<u8> = pad.iter().zip(masked).map(|(p, m)| p ^ m).collect();
    same(token.as_bytes(), &unmasked)
}

/// What a valid-looking link carries (its signature checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkClaims {
    pub id: i64,
    pub expires_at: i64,
    pub secret: [u8; SECRET_LEN],
}

/// Signs and checks link tokens with the server's key.
#[derive(Clone)]
pub struct LinkSigner {
    key: hmac::Key,
}

impl LinkSigner {
    pub fn new(key: &[u8]) -> LinkSigner {
        LinkSigner {
            key: hmac::Key::new(hmac::HMAC_SHA256, key),
        }
    }

    pub fn sign(&self, claims: &LinkClaims) -> String {
        let mut payload = Vec::with_capacity(16 + SECRET_LEN);
        payload.extend_from_slice(&claims.id.to_be_bytes());
        payload.extend_from_slice(&claims.expires_at.to_be_bytes());
        payload.extend_from_slice(&claims.secret);
        let tag = hmac::sign(&self.key, &payload);
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(tag.as_ref())
        )
    }

    /// The claims of an untampered token, or None. Expiry is the caller's
    /// check (it needs the clock and gives its own message).
    pub fn open(&self, token: &str) -> Option<LinkClaims> {
        let (payload, tag) = token.trim().split_once('.')?;
        let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        hmac::verify(&self.key, &payload, &tag).ok()?;
        if payload.len() != 16 + SECRET_LEN {
            return None;
        }
        let id = i64::from_be_bytes(payload[0..8].try_into().ok()?);
        let expires_at = i64::from_be_bytes(payload[8..16].try_into().ok()?);
        let secret: [u8; SECRET_LEN] = payload[16..].try_into().ok()?;
        Some(LinkClaims {
            id,
            expires_at,
            secret,
        })
    }
}

#[cfg(test)]
mod csrf_tests {
    use super::{csrf_matches, mask_csrf, random_token};

    #[test]
    fn a_masked_token_differs_each_time_and_still_matches() {
        let t = random_token();
        let (a, b) = (mask_csrf(&t), mask_csrf(&t));
        assert_ne!(a, b);
        assert!(!a.contains(&t) && !b.contains(&t));
        assert!(csrf_matches(&t, &a) && csrf_matches(&t, &b) && csrf_matches(&t, &t));
        // another session's token, a flipped character, a cut one, junk
        let other = random_token();
        assert!(!csrf_matches(&t, &mask_csrf(&other)) && !csrf_matches(&t, &other));
        let mut flipped = a.clone().into_bytes();
        flipped[60] = if flipped[60] == b'A' { b'B' } else { b'A' };
        assert!(!csrf_matches(
            &t,
            &String::from_utf8(flipped).expect("ascii")
        ));
        assert!(!csrf_matches(&t, &a[..a.len() - 1]));
        assert!(!csrf_matches(&t, ""));
        assert!(!csrf_matches(&t, "!!not base64!!"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> LinkClaims {
        LinkClaims {
            id: 42,
            expires_at: 1_800_000_000_000,
            secret: random_bytes(),
        }
    }

    #[test]
    fn a_signed_link_opens_with_the_same_key_only() {
        let s = LinkSigner::new(b"key one");
        let c = claims();
        let t = s.sign(&c);
        assert_eq!(s.open(&t), Some(c.clone()));
        assert_eq!(LinkSigner::new(b"key two").open(&t), None);
    }

    #[test]
    fn any_tampering_is_refused() {
        let s = LinkSigner::new(b"k");
        let t = s.sign(&claims());
        let (payload, tag) = t.split_once('.').expect("dot");
        // flip one character of the payload (a different id or expiry)
        let mut p: Vec<char> = payload.chars().collect();
        p[3] = if p[3] == 'A' { 'B' } else { 'A' };
        let forged: String = p.into_iter().collect();
        assert_eq!(s.open(&format!("{forged}.{tag}")), None);
        assert_eq!(s.open(&format!("{payload}.{}", &tag[1..])), None);
        assert_eq!(s.open(payload), None);
        assert_eq!(s.open(""), None);
        assert_eq!(s.open("..."), None);
        assert_eq!(s.open("%%%.%%%"), None);
    }

    #[test]
    fn tokens_are_random_and_compare_in_constant_time() {
        assert_ne!(random_token(), random_token());
        assert_eq!(random_token().len(), 43);
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"abcd"));
    }
}
