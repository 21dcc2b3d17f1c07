//! The mail spine end to end inside one process: real SMTP listener on
//! 127.0.0.1, real store on disk, the delivery queue with a scripted
//! deliverer (or lettre towards a second Continuity acting as primary).

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use server::queue::Attempt;
use server::store::MessageId;

const MSG: &[u8] = b"From: Sender <s@remote.test>\r\nTo: alice@example.test\r\nSubject: spine test\r\nMessage-ID: <t1@remote.test>\r\n\r\nHello Alice,\r\n.leading dot kept\r\n\r\n";

fn message_id(reply: &str) -> MessageId {
    let n = reply
        .trim()
        .rsplit(' ')
        .next()
        .and_then(|s| s.parse().ok())
        .expect("queued as <id>");
    MessageId(n)
}

/// What the client sent inside DATA, dot-stuffed.
fn stuffed(m: &[u8]) -> Vec<u8> {
    let s = String::from_utf8_lossy(m).replace("\r\n.", "\r\n..");
    s.into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_mail_is_stored_byte_exact_and_delivered() {
    let cfg = test_config("exact");
    let d = ScriptedDeliverer::accepting();
    let r = start(&cfg, Some(d.clone())).await;
    demo_domain(&r, "primary.example.test", 2526).await;
    let mut c = Client::connect(r.smtp_addrs[0]).await;
    assert!(c
        .cmd("EHLO client.remote.test")
        .await
        .contains("PIPELINING"));
    let reply = c
        .mail(
            "s@remote.test",
            &["alice@example.test", "bob.alias@example.test"],
            &stuffed(MSG),
        )
        .await;
    assert!(reply.starts_with("250 2.0.0 Ok: queued as"), "{reply}");
    let id = message_id(&reply);
    // 250 means durable: the raw bytes are there, byte for byte.
    assert_eq!(r.store.raw_message(id).await.unwrap().unwrap(), MSG);
    eventually(10, "both delivered", || async {
        statuses(&r.store, id).await == ["delivered", "delivered"]
    })
    .await;
    let seen = d.seen();
    assert_eq!(seen.len(), 2);
    let (route, from, _rcpt, bytes) = &seen[0];
    assert_eq!(route.host, "primary.example.test");
    assert_eq!(route.port, 2526);
    assert_eq!(from, "s@remote.test");
    assert!(bytes.starts_with(b"Received: from client.remote.test ([127.0.0.1])"));
    assert!(
        bytes.ends_with(MSG),
        "original bytes follow our trace header"
    );
    let kinds: Vec<String> = r
        .store
        .events_of(id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    for k in ["received", "queued", "attempt", "delivered"] {
        assert!(kinds.contains(&k.to_string()), "{k} missing in {kinds:?}");
    }
    let received = &r.store.events_of(id).await.unwrap()[0];
    assert!(
        received.detail.contains("\"helo\":\"client.remote.test\""),
        "{}",
        received.detail
    );
    assert!(received.detail.contains("\"client_ip\":\"127.0.0.1\""));
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporary_failure_is_delayed_then_delivered() {
    let cfg = test_config("delayed");
    let d = ScriptedDeliverer::accepting();
    d.script
        .lock()
        .unwrap()
        .push(Attempt::Temporary("Connection refused".into()));
    let r = start(&cfg, Some(d.clone())).await;
    demo_domain(&r, "127.0.0.1", 9).await;
    let mut c = Client::connect(r.smtp_addrs[0]).await;
    c.cmd("EHLO c").await;
    let id = message_id(&c.mail("s@remote.test", &["alice@example.test"], MSG).await);
    eventually(10, "delayed", || async {
        statuses(&r.store, id).await == ["delayed"]
    })
    .await;
    eventually(10, "delivered on retry", || async {
        statuses(&r.store, id).await == ["delivered"]
    })
    .await;
    let rows = r.store.deliveries_of(id).await.unwrap();
    assert_eq!(rows[0].attempts, 2);
    let kinds: Vec<String> = r
        .store
        .events_of(id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            "received",
            "queued",
            "attempt",
            "delayed",
            "attempt",
            "delivered"
        ]
    );
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_failure_bounces_with_a_dsn_to_the_sender() {
    let cfg = test_config("bounce");
    let d = ScriptedDeliverer::accepting();
    d.script.lock().unwrap().push(Attempt::Permanent(
        "permanent error (550): 5.1.1 <alice@example.test>: User unknown".into(),
    ));
    let r = start(&cfg, Some(d.clone())).await;
    demo_domain(&r, "primary.example.test", 25).await;
    let mut c = Client::connect(r.smtp_addrs[0]).await;
    c.cmd("EHLO c").await;
    // the sender is in a protected domain: the DSN goes to its primary
    let id = message_id(
        &c.mail("bob@example.test", &["alice@example.test"], MSG)
            .await,
    );
    eventually(10, "bounced", || async {
        statuses(&r.store, id).await == ["bounced"]
    })
    .await;
    eventually(10, "DSN delivered", || async {
        d.seen()
            .iter()
            .any(|(_, from, rcpt, _)| from.is_empty() && rcpt == "bob@example.test")
    })
    .await;
    let (_, _, _, dsn) = d
        .seen()
        .into_iter()
        .find(|(_, from, _, _)| from.is_empty())
        .unwrap();
    let text = String::from_utf8_lossy(&dsn);
    assert!(text.contains("multipart/report"), "{text}");
    assert!(text.contains("Status: 5.1.1"));
    assert!(
        text.contains("Subject: spine test"),
        "original headers returned"
    );
    let events = r.store.events_of(id).await.unwrap();
    assert!(events.iter().any(|e| e.kind == "dsn"), "{events:?}");
    r.stop().await;
}

/// A message to several users of one domain goes to its primary in one
/// transaction; the recipient the primary refuses bounces alone, with one
/// DSN, and the one it defers is retried alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_recipients_at_one_primary_go_together_each_judged_alone() {
    let cfg = test_config("multi-rcpt");
    let d = ScriptedDeliverer::accepting();
    d.script.lock().unwrap().extend([
        Attempt::Accepted("250 2.0.0 Ok: queued as A".into()),
        Attempt::Permanent("550 5.1.1 <bob@example.test>: User unknown".into()),
        Attempt::Temporary("452 4.2.2 <carol@example.test>: Mailbox full".into()),
    ]);
    let r = start(&cfg, Some(d.clone())).await;
    demo_domain(&r, "primary.example.test", 25).await;
    let mut c = Client::connect(r.smtp_addrs[0]).await;
    c.cmd("EHLO c").await;
    let rcpts = [
        "alice@example.test",
        "bob@example.test",
        "carol@example.test",
    ];
    let id = message_id(&c.mail("dave@example.test", &rcpts, MSG).await);
    eventually(10, "each recipient's outcome", || async {
        statuses(&r.store, id).await == ["delivered", "bounced", "delivered"]
    })
    .await;
    let tx = d.transactions();
    assert_eq!(tx[0], rcpts, "one transaction for the three: {tx:?}");
    assert!(
        tx[1..].contains(&vec!["carol@example.test".to_string()]),
        "the deferred one retried alone: {tx:?}"
    );
    // our trace names no recipient when there are several
    let (_, _, _, bytes) = d.seen().remove(0);
    let head = String::from_utf8_lossy(&bytes[..200]).to_string();
    assert!(
        head.starts_with("Received: ") && !head.contains("for <"),
        "{head}"
    );
    // one DSN, for bob only
    eventually(10, "the DSN delivered", || async {
        d.seen().iter().any(|(_, from, _, _)| from.is_empty())
    })
    .await;
    let dsns: Vec<String> = d
        .seen()
        .into_iter()
        .filter(|(_, from, _, _)| from.is_empty())
        .map(|(_, _, _, b)| String::from_utf8_lossy(&b).to_string())
        .collect();
    assert_eq!(dsns.len(), 1, "{dsns:?}");
    assert!(
        dsns[0].contains("Final-Recipient: rfc822; bob@example.test"),
        "{}",
        dsns[0]
    );
    assert!(!dsns[0].contains("Final-Recipient: rfc822; carol"));
    let rows = r.store.deliveries_of(id).await.unwrap();
    let attempts: Vec<i64> = rows.iter().map(|d| d.attempts).collect();
    assert_eq!(attempts, [1, 1, 2]);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn null_sender_is_never_bounced_and_remote_dsn_waits_for_a_route() {
    let cfg = test_config("nullsender");
    let d = Arc::new(ScriptedDeliverer::default());
    *d.default.lock().unwrap() = Some(Attempt::Permanent("550 5.1.1 no such user".into()));
    let r = start(&cfg, Some(d.clone())).await;
    demo_domain(&r, "primary.example.test", 25).await;
    let mut c = Client::connect(r.smtp_addrs[0]).await;
    c.cmd("EHLO c").await;
    let bounce = message_id(&c.mail("", &["alice@example.test"], MSG).await);
    let remote = message_id(&c.mail("s@remote.test", &["bob@example.test"], MSG).await);
    eventually(10, "both bounced", || async {
        statuses(&r.store, bounce).await == ["bounced"]
            && statuses(&r.store, remote).await == ["bounced"]
    })
    .await;
    r.store.flush().await.unwrap();
    // no DSN for the null sender
    assert!(!r
        .store
        .events_of(bounce)
        .await
        .unwrap()
        .iter()
        .any(|e| e.kind == "dsn"));
    // the DSN to a remote sender exists and waits: no smarthost configured
    let ev = r.store.events_of(remote).await.unwrap();
    let dsn_event = ev.iter().find(|e| e.kind == "dsn").expect("dsn recorded");
    let dsn_id: i64 = serde_json::from_str::<serde_json::Value>(&dsn_event.detail).unwrap()
        ["dsn_message"]
        .as_i64()
        .unwrap();
    eventually(10, "DSN delayed", || async {
        r.store
            .deliveries_of(MessageId(dsn_id))
            .await
            .unwrap()
            .iter()
            .any(|d| {
                d.status == "delayed" && d.last_reply.as_deref().unwrap_or("").contains("smarthost")
            })
    })
    .await;
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_retried_too_long_expires_with_a_dsn() {
    let mut cfg = test_config("expire");
    cfg.queue.max_age = Duration::from_millis(700);
    let d = Arc::new(ScriptedDeliverer::default()); // always temporary
    let r = start(&cfg, Some(d.clone())).await;
    demo_domain(&r, "primary.example.test", 25).await;
    let mut c = Client::connect(r.smtp_addrs[0]).await;
    c.cmd("EHLO c").await;
    let id = message_id(
        &c.mail("carol@example.test", &["alice@example.test"], MSG)
            .await,
    );
    eventually(15, "expired", || async {
        statuses(&r.store, id).await == ["expired"]
    })
    .await;
    r.store.flush().await.unwrap();
    let ev = r.store.events_of(id).await.unwrap();
    assert!(ev.iter().any(|e| e.kind == "dsn"));
    let expired = ev.iter().find(|e| e.kind == "expired").unwrap();
    assert!(
        expired.detail.contains("expired after"),
        "{}",
        expired.detail
    );
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_recipients_are_tracked() {
    let cfg = test_config("reject");
    let r = start(&cfg, Some(ScriptedDeliverer::accepting())).await;
    demo_domain(&r, "primary.example.test", 25).await;
    let mut c = Client::connect(r.smtp_addrs[0]).await;
    c.cmd("EHLO spammer.test").await;
    c.cmd("MAIL FROM:<x@spam.test>").await;
    assert!(c
        .cmd("RCPT TO:<victim@gmail.test>")
        .await
        .starts_with("550 5.7.1"));
    assert!(c
        .cmd("RCPT TO:<nobody@example.test>")
        .await
        .starts_with("550 5.1.1"));
    c.cmd("QUIT").await;
    eventually(10, "two rejections recorded", || async {
        let _ = r.store.flush().await;
        r.store.rejections(10).await.unwrap().len() == 2
    })
    .await;
    let rej = r.store.rejections(10).await.unwrap();
    assert!(rej
        .iter()
        .any(|e| e.detail.contains("victim@gmail.test") && e.detail.contains("spammer.test")));
    r.stop().await;
}

/// lettre delivers to a real SMTP server: a second Continuity instance plays
/// the primary. Its unknown-user 550 turns into a bounce and a DSN.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lettre_delivers_to_a_real_primary_and_bounces_its_5xx() {
    // B: the "primary", holding mail (no queue); knows alice and carol, not bob.
    let cfg_b = test_config("primary");
    let b = start_holding(&cfg_b).await;
    b.store
        .add_domain(
            "example.test",
            "127.0.0.1",
            9,
            server::config::TlsMode::None,
        )
        .await
        .unwrap();
    b.store
        .add_user("alice@example.test", "", &[], "local")
        .await
        .unwrap();
    b.store
        .add_user("carol@example.test", "", &[], "local")
        .await
        .unwrap();
    b.directory.refresh(&b.store).await;
    // A: Continuity, whose primary for example.test is B.
    let cfg_a = test_config("front");
    let a = start(&cfg_a, None).await;
    let pb = b.smtp_addrs[0];
    demo_domain(&a, &pb.ip().to_string(), pb.port()).await;

    let mut c = Client::connect(a.smtp_addrs[0]).await;
    c.cmd("EHLO c").await;
    let ok = message_id(
        &c.mail("s@remote.test", &["alice@example.test"], &stuffed(MSG))
            .await,
    );
    let fail = message_id(
        &c.mail("carol@example.test", &["bob@example.test"], MSG)
            .await,
    );
    eventually(20, "delivered to B", || async {
        statuses(&a.store, ok).await == ["delivered"]
    })
    .await;
    eventually(20, "bounced by B", || async {
        statuses(&a.store, fail).await == ["bounced"]
    })
    .await;
    let at_b = b.store.messages_with_subject("spine test").await.unwrap();
    assert_eq!(at_b.len(), 1, "exactly once at the primary");
    let raw = b.store.raw_message(at_b[0]).await.unwrap().unwrap();
    assert!(raw.starts_with(b"Received: from c ([127.0.0.1])"));
    assert!(
        raw.ends_with(MSG),
        "byte for byte at the primary: {:?}",
        String::from_utf8_lossy(&raw)
    );
    let rows = a.store.deliveries_of(fail).await.unwrap();
    assert!(
        rows[0].last_reply.as_deref().unwrap().contains("5.1.1"),
        "{rows:?}"
    );
    // the DSN to carol (a protected domain's user) went to B as well
    eventually(20, "DSN at B", || async {
        !b.store
            .messages_with_subject("Undelivered Mail Returned to Sender")
            .await
            .unwrap()
            .is_empty()
    })
    .await;
    a.stop().await;
    b.stop().await;
}

/// STARTTLS with a real client (lettre, TLS required) and the self-signed certificate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_with_a_real_client() {
    let mut cfg = test_config("tls");
    cfg.smtp.self_signed = true;
    let r = start_holding(&cfg).await;
    demo_domain(&r, "127.0.0.1", 9).await;
    let addr = r.smtp_addrs[0];
    let tls = TlsParameters::builder("localhost".into())
        .dangerous_accept_invalid_certs(true)
        .build_rustls()
        .unwrap();
    let client = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(addr.port())
        .tls(Tls::Required(tls))
        .build();
    let env = lettre::address::Envelope::new(
        Some("s@remote.test".parse().unwrap()),
        vec!["alice@example.test".parse().unwrap()],
    )
    .unwrap();
    // lettre adds the final CRLF itself
    let resp = client
        .send_raw(&env, MSG.strip_suffix(b"\r\n").unwrap())
        .await
        .expect("sent over TLS");
    assert!(resp.is_positive());
    let ids = r.store.messages_with_subject("spine test").await.unwrap();
    assert_eq!(ids.len(), 1);
    assert_eq!(r.store.raw_message(ids[0]).await.unwrap().unwrap(), MSG);
    let ev = r.store.events_of(ids[0]).await.unwrap();
    assert!(ev[0].detail.contains("\"tls\":true"), "{}", ev[0].detail);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sessions_share_group_commits_and_lose_nothing() {
    let cfg = test_config("concurrent");
    let r = start_holding(&cfg).await;
    demo_domain(&r, "127.0.0.1", 9).await;
    let addr = r.smtp_addrs[0];
    let mut tasks = Vec::new();
    for s in 0..20 {
        tasks.push(tokio::spawn(async move {
            let mut c = Client::connect(addr).await;
            c.cmd("EHLO c").await;
            let mut ids = Vec::new();
            for m in 0..10 {
                let body = format!("Subject: s{s} m{m}\r\n\r\nbody {s} {m}\r\n");
                let reply = c
                    .mail("s@remote.test", &["bob@example.test"], body.as_bytes())
                    .await;
                assert!(reply.starts_with("250"), "{reply}");
                ids.push(message_id(&reply));
            }
            ids
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 200);
    assert_eq!(r.store.message_count().await.unwrap(), 200);
    r.stop().await;
}

/// Mail accepted while the queue was not running is delivered after a
/// restart; a delivery left "delivering" by a crash is requeued and sent once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_survives_a_restart() {
    let cfg = test_config("restart");
    let r = start_holding(&cfg).await;
    demo_domain(&r, "127.0.0.1", 9).await;
    let mut c = Client::connect(r.smtp_addrs[0]).await;
    c.cmd("EHLO c").await;
    let a = message_id(&c.mail("s@remote.test", &["alice@example.test"], MSG).await);
    let b = message_id(&c.mail("s@remote.test", &["bob@example.test"], MSG).await);
    // simulate a crash mid-attempt: claimed (recorded as delivering), no outcome
    let claimed = r
        .store
        .claim_due(&cfg.node_id, 1, server::store::now_ms())
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(statuses(&r.store, claimed[0].message).await, ["delivering"]);
    drop(c);
    r.stop().await;

    let d = ScriptedDeliverer::accepting();
    let r = start(&cfg, Some(d.clone())).await;
    eventually(10, "both delivered", || async {
        statuses(&r.store, a).await == ["delivered"] && statuses(&r.store, b).await == ["delivered"]
    })
    .await;
    assert_eq!(d.seen().len(), 2, "each delivered once");
    let ev = r.store.events_of(claimed[0].message).await.unwrap();
    assert!(ev.iter().any(|e| e.kind == "requeued"));
    r.stop().await;
}

/// The data directory holds every archived message: only the service's
/// user may read it, its database and its key.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_archive_is_readable_by_the_service_user_only() {
    use std::os::unix::fs::PermissionsExt;
    let mut cfg = test_config("private");
    // a data directory the service creates itself
    cfg.data_dir = cfg.data_dir.join("fresh/continuity");
    // the database file is the SQLite store's (PostgreSQL keeps its own)
    let sqlite = matches!(cfg.store.url, server::config::StoreUrl::Sqlite(_));
    if sqlite {
        cfg.store.url = server::config::StoreUrl::Sqlite(cfg.database_path());
    }
    cfg.smtp.self_signed = true;
    let r = start_holding(&cfg).await;
    demo_domain(&r, "127.0.0.1", 9).await;
    let mode = |p: &std::path::Path| {
        std::fs::metadata(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .permissions()
            .mode()
            & 0o777
    };
    let db = cfg.database_path();
    assert_eq!(mode(&cfg.data_dir), 0o700);
    assert_eq!(mode(&cfg.data_dir.join("tls")), 0o700);
    assert_eq!(mode(&cfg.data_dir.join("tls/key.pem")), 0o600);
    if !sqlite {
        r.stop().await;
        return;
    }
    assert_eq!(mode(&db), 0o600);
    let wal = db.with_extension("db-wal");
    if wal.exists() {
        assert_eq!(mode(&wal), 0o600);
    }
    r.stop().await;
    // a database others could read is tightened at the next start
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = start_holding(&cfg).await;
    assert_eq!(mode(&db), 0o600);
    r.stop().await;
}
