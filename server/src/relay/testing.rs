//! For tests: checking a DKIM signature the way a receiving server does
//! (mail-auth's verifier), against a record given in place of DNS.

use std::borrow::Borrow;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use mail_auth::common::parse::TxtRecordParser;
use mail_auth::common::verify::DomainKey;
use mail_auth::{AuthenticatedMessage, DkimResult, MessageAuthenticator, ResolverCache, Txt};

/// The published record, as a DNS cache mail-auth reads first.
struct Published(Mutex<Vec<(String, Txt)>>);

impl ResolverCache<String, Txt> for Published {
    fn get<Q>(&self, name: &Q) -> Option<Txt>
    where
        String: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|(k, _)| <String as Borrow<Q>>::borrow(k) == name)
            .map(|(_, v)| v.clone())
    }
    fn remove<Q>(&self, _: &Q) -> Option<Txt>
    where
        String: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        None
    }
    fn insert(&self, key: String, value: Txt, _: Instant) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((key, value));
    }
}

/// The result of the first DKIM signature of `message`, with `record`
/// (`v=DKIM1; k=…; p=…`) published at `selector._domainkey.domain`.
/// `DkimResult::None` when the message has no signature or cannot be read.
pub async fn verify_dkim(message: &[u8], domain: &str, selector: &str, record: &str) -> DkimResult {
    let Ok(key) = DomainKey::parse(record.as_bytes()) else {
        return DkimResult::None;
    };
    let cache = Published(Mutex::new(vec![(
        format!("{selector}._domainkey.{domain}."),
        Txt::DomainKey(Arc::new(key)),
    )]));
    let Ok(auth) = MessageAuthenticator::new(Default::default(), Default::default()) else {
        return DkimResult::None;
    };
    let Some(parsed) = AuthenticatedMessage::parse(message) else {
        return DkimResult::None;
    };
    let out = auth
        .verify_dkim(mail_auth::Parameters::new(&parsed).with_txt_cache(&cache))
        .await;
    out.first()
        .map(|o| o.result().clone())
        .unwrap_or(DkimResult::None)
}
