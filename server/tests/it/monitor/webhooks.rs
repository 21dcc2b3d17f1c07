//! The outage webhook: each state change posted, signed, and retried
//! until the receiver takes it.

use std::sync::atomic::AtomicU8;
use std::sync::Arc;

use tokio::net::TcpListener;

use super::fake_primary::{fake_primary, HEALTHY};
use super::*;

/// A receiver that answers 500 to the first POST and 200 after, and keeps
/// what it was sent: (headers, body).
async fn hook_receiver() -> (u16, Arc<std::sync::Mutex<Vec<(String, String)>>>) {
    use tokio::io::AsyncReadExt;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen: Arc<std::sync::Mutex<Vec<(String, String)>>> = Default::default();
    let keep = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let (head, body) = loop {
                let Ok(n) = sock.read(&mut chunk).await else {
                    break (String::new(), String::new());
                };
                if n == 0 {
                    break (String::new(), String::new());
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some((h, b)) = text.split_once("\r\n\r\n") {
                    let len: usize = h
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if b.len() >= len {
                        break (h.to_string(), b.to_string());
                    }
                }
            };
            let first = {
                let mut s = keep.lock().unwrap();
                s.push((head, body));
                s.len() == 1
            };
            let status = if first {
                "500 Internal Server Error"
            } else {
                "200 OK"
            };
            let _ = sock
                .write_all(
                    format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                        .as_bytes(),
                )
                .await;
        }
    });
    (port, seen)
}

#[tokio::test]
async fn state_changes_are_posted_to_the_webhook_signed_and_retried() {
    let mode = Arc::new(AtomicU8::new(HEALTHY));
    let port = fake_primary(mode.clone()).await;
    let (store, d) = setup("monitor-webhook", port).await;
    for bad in ["ftp://x/", "https://u:p@h/", "nope"] {
        assert!(
            store.set_webhook(d, Some(bad), false).await.is_err(),
            "{bad}"
        );
    }
    let (hook, seen) = hook_receiver().await;
    let secret = store
        .set_webhook(
            d,
            Some(&format!("http://127.0.0.1:{hook}/continuity?k=1")),
            false,
        )
        .await
        .expect("webhook")
        .expect("secret");
    let (stop, rx) = tokio::sync::watch::channel(false);
    let sender = server::monitor::webhook::Sender::new(store.clone())
        .with_backoff(vec![Duration::from_millis(200)]);
    tokio::spawn(sender.run(rx));

    monitor::command(
        &store,
        "mx.continuity.test",
        d,
        Input::ActivateNow { by: "ops".into() },
    )
    .await
    .expect("activate");
    common::eventually(10, "delivered on the second try", || async {
        seen.lock().unwrap().len() >= 2
    })
    .await;
    let posts = seen.lock().unwrap().clone();
    let (head, body) = &posts[1];
    assert!(head.starts_with("POST /continuity?k=1 HTTP/1.1"), "{head}");
    assert_eq!(posts[0].1, *body, "the same document is retried");
    let v: serde_json::Value = serde_json::from_str(body).expect("json");
    assert_eq!(v["event"], "outage.started");
    assert_eq!(v["domain"], "example.test");
    assert_eq!(v["to"], "outage");
    assert_eq!(v["reason"], "activated by ops");
    // the signature checks out with the secret, over "<t>.<body>"
    let sig = head
        .lines()
        .find_map(|l| l.strip_prefix("continuity-signature: "))
        .expect("signature header");
    let t: i64 = sig
        .strip_prefix("t=")
        .and_then(|r| r.split(',').next())
        .and_then(|t| t.parse().ok())
        .expect("t");
    assert_eq!(
        sig,
        server::monitor::webhook::signature(&secret, t, body),
        "signed with the domain's secret"
    );
    assert_ne!(
        sig,
        server::monitor::webhook::signature("another secret", t, body)
    );
    assert!(head.contains(&format!("continuity-webhook-id: {}", v["id"])));
    common::eventually(5, "recorded as delivered", || async {
        let log = store.webhook_log(d, 5).await.expect("log");
        log.first().is_some_and(|(_, status, attempts, err, _)| {
            status == "delivered"
                && *attempts == 2
                && err.as_deref() == Some("answered 500 Internal Server Error")
        })
    })
    .await;
    let _ = stop.send(true);
}

/// A webhook a domain admin set is posted only where their primary could
/// be, checked at the moment of posting: loopback is refused until an
/// operator allows its network for the domain, and then it is posted.
#[tokio::test]
async fn a_domain_admins_webhook_is_posted_only_to_allowed_addresses() {
    let mode = Arc::new(AtomicU8::new(HEALTHY));
    let port = fake_primary(mode.clone()).await;
    let (store, d) = setup("monitor-webhook-checked", port).await;
    store
        .set_primary_allowance(d, &Default::default())
        .await
        .expect("no allowance");
    let (hook, seen) = hook_receiver().await;
    store
        .set_webhook(d, Some(&format!("http://127.0.0.1:{hook}/h")), true)
        .await
        .expect("webhook");
    let (stop, rx) = tokio::sync::watch::channel(false);
    let sender = server::monitor::webhook::Sender::new(store.clone())
        .with_backoff(vec![Duration::from_millis(200)]);
    tokio::spawn(sender.run(rx));
    monitor::command(
        &store,
        "mx.continuity.test",
        d,
        Input::ActivateNow { by: "ops".into() },
    )
    .await
    .expect("activate");
    common::eventually(10, "the attempt refused before connecting", || async {
        let log = store.webhook_log(d, 5).await.expect("log");
        log.first().is_some_and(|(_, status, attempts, err, _)| {
            status == "pending"
                && *attempts >= 1
                && err.as_deref().is_some_and(|e| {
                    e.contains("not posted to 127.0.0.1") && e.contains("loopback")
                })
        })
    })
    .await;
    assert!(seen.lock().unwrap().is_empty(), "nothing reached loopback");
    // the operator allows loopback for this domain: the retry goes through
    let allow =
        server::monitor::reach::PrimaryAllowance::parse("127.0.0.0/8", "").expect("allowance");
    store.set_primary_allowance(d, &allow).await.expect("allow");
    common::eventually(10, "posted once allowed", || async {
        !seen.lock().unwrap().is_empty()
    })
    .await;
    let _ = stop.send(true);
}
