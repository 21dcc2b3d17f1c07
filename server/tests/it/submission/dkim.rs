//! DKIM at delivery: what a user submits is signed when it goes out, with
//! the key active then.

use super::*;

/// The message delivered to `rcpt` whose text holds `subject`, once it is.
async fn delivered(d: &ScriptedDeliverer, rcpt: &str, subject: &str) -> Vec<u8> {
    let find = || {
        d.seen().into_iter().find_map(|(_, _, to, bytes)| {
            (to == rcpt && String::from_utf8_lossy(&bytes).contains(subject)).then_some(bytes)
        })
    };
    eventually(10, "delivered", || async { find().is_some() }).await;
    find().unwrap()
}

/// DKIM signing happens at delivery, as Exim's transports sign: what is
/// stored is what the sender sent; each delivery carries a signature by the
/// domain's key active when it goes out — mail held through an outage while
/// the key changed goes out with the new key — and none once signing is off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submitted_mail_is_signed_when_delivered_with_the_key_active_then() {
    use server::relay::dkim::{self, Algorithm};
    use server::relay::testing::verify_dkim;
    let (r, d) = setup("sub-dkim").await;
    let dom = r
        .store
        .domain_by_name("example.test")
        .await
        .unwrap()
        .unwrap();
    let rsa = dkim::generate(Algorithm::RsaSha256, 2048).unwrap();
    let rsa_record = dkim::record_text(Algorithm::RsaSha256, &rsa.public_b64);
    r.store
        .add_dkim_key(
            dom.id,
            "a2026",
            "rsa-sha256",
            &rsa.private_der,
            &rsa.public_b64,
        )
        .await
        .unwrap();
    let c = client(&r, false, "alice@example.test", PW);
    let msg = |subject: &str, to: &str| {
        format!(
            "From: Alice <alice@example.test>\r\nTo: {to}\r\nSubject: {subject}\r\n\r\nHello.\r\n"
        )
    };
    c.send_raw(
        &env("alice@example.test", &["friend@remote.test"]),
        msg("signed out", "friend@remote.test").as_bytes(),
    )
    .await
    .expect("accepted");
    let out = delivered(&d, "friend@remote.test", "signed out").await;
    assert!(out.starts_with(b"Received: "), "our trace header first");
    assert_eq!(
        verify_dkim(&out, "example.test", "a2026", &rsa_record).await,
        mail_auth::DkimResult::Pass,
        "{}",
        String::from_utf8_lossy(&out)
    );
    // stored as it was sent: the signature is the delivery's
    let u = user(&r, "alice@example.test").await;
    r.store.flush().await.unwrap();
    let sent = r
        .store
        .mailbox_page(u, Folder::Sent, None, 5)
        .await
        .unwrap();
    let raw = r.store.raw_message(sent[0].message).await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&raw).contains("Subject: signed out"));
    assert!(!String::from_utf8_lossy(&raw).contains("DKIM-Signature"));

    // held for bob's primary through an outage, while the key changes
    assert!(r
        .store
        .transition(dom.id, "normal", "outage", "test", true, None)
        .await
        .unwrap());
    c.send_raw(
        &env("alice@example.test", &["bob@example.test"]),
        msg("held then signed", "bob@example.test").as_bytes(),
    )
    .await
    .expect("accepted");
    let ed = dkim::generate(Algorithm::Ed25519Sha256, 0).unwrap();
    let ed_record = dkim::record_text(Algorithm::Ed25519Sha256, &ed.public_b64);
    r.store
        .add_dkim_key(
            dom.id,
            "b2026",
            "ed25519-sha256",
            &ed.private_der,
            &ed.public_b64,
        )
        .await
        .unwrap();
    assert!(r
        .store
        .transition(dom.id, "outage", "recovering", "test", false, None)
        .await
        .unwrap());
    let out = delivered(&d, "bob@example.test", "held then signed").await;
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.contains("s=b2026") && !text.contains("s=a2026"),
        "{text}"
    );
    assert_eq!(
        verify_dkim(&out, "example.test", "b2026", &ed_record).await,
        mail_auth::DkimResult::Pass
    );

    // signing turned off: the next one goes out unsigned
    r.store.set_dkim_signing(dom.id, false, None).await.unwrap();
    c.send_raw(
        &env("alice@example.test", &["friend@remote.test"]),
        msg("unsigned out", "friend@remote.test").as_bytes(),
    )
    .await
    .expect("accepted");
    let out = delivered(&d, "friend@remote.test", "unsigned out").await;
    assert!(!String::from_utf8_lossy(&out).contains("DKIM-Signature"));
    r.stop().await;
}
