//! The listener under pressure: graceful shutdown, connection limit, idle
//! timeout, the in-flight data budget, and admin writes racing ingest.

use crate::common;

use std::time::Duration;

use common::*;

/// A graceful stop lets a message already in DATA finish (and be stored),
/// then closes the session with 421.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_a_message_in_data_finish() {
    let cfg = test_config("shutdown");
    let r = start_holding(&cfg).await;
    demo_domain(&r, "127.0.0.1", 9).await;
    let store = r.store.clone();
    let mut c = Client::connect(r.smtp_addrs[0]).await;
    c.cmd("EHLO c").await;
    c.cmd("MAIL FROM:<s@remote.test>").await;
    c.cmd("RCPT TO:<alice@example.test>").await;
    assert!(c.cmd("DATA").await.starts_with("354"));
    c.send(b"Subject: in flight\r\n\r\nfirst half\r\n").await;
    let addr = r.smtp_addrs[0];
    let stopping = tokio::spawn(r.stop());
    // the stop is under way once the listener takes no more connections
    eventually(10, "the listener closed", || async {
        tokio::net::TcpStream::connect(addr).await.is_err()
    })
    .await;
    c.send(b"second half\r\n.\r\n").await;
    let reply = c.reply().await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    let bye = c.cmd("NOOP").await;
    assert!(bye.starts_with("421 4.3.2"), "{bye}");
    stopping.await.unwrap();
    assert_eq!(
        store
            .messages_with_subject("in flight")
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_limit_and_idle_timeout() {
    let mut cfg = test_config("limits");
    cfg.smtp.max_connections = 2;
    cfg.smtp.idle_timeout = Duration::from_millis(400);
    let r = start_holding(&cfg).await;
    let addr = r.smtp_addrs[0];
    let _a = Client::connect(addr).await;
    let _b = Client::connect(addr).await;
    // the third is turned away at once
    let s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut line = String::new();
    let mut reader = tokio::io::BufReader::new(s);
    tokio::io::AsyncBufReadExt::read_line(&mut reader, &mut line)
        .await
        .unwrap();
    assert!(line.starts_with("421 4.7.0"), "{line}");
    // an idle session is closed with 421 4.4.2
    let mut idle = _a;
    let reply = idle.reply().await;
    assert!(reply.starts_with("421 4.4.2"), "{reply}");
    r.stop().await;
}

/// When all sessions together would hold more message data than allowed,
/// the message that does not fit gets 452 4.3.1; the others go through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inflight_data_budget_refuses_temporarily() {
    let mut cfg = test_config("budget");
    cfg.smtp.max_message_size = 64 * 1024;
    cfg.smtp.max_inflight_data = 64 * 1024;
    let r = start_holding(&cfg).await;
    demo_domain(&r, "127.0.0.1", 9).await;
    let addr = r.smtp_addrs[0];
    let mut a = Client::connect(addr).await;
    let mut b = Client::connect(addr).await;
    for c in [&mut a, &mut b] {
        c.cmd("EHLO c").await;
        c.cmd("MAIL FROM:<s@remote.test>").await;
        c.cmd("RCPT TO:<alice@example.test>").await;
        assert!(c.cmd("DATA").await.starts_with("354"));
    }
    let chunk = format!("Subject: budget\r\n\r\n{}\r\n", "x".repeat(40 * 1024));
    a.send(chunk.as_bytes()).await;
    // a's data is held once the budget has lent it out (a wait on that)
    eventually(10, "a's data held", || async {
        r.smtp.data_in_flight_kib() >= 40
    })
    .await;
    // b's does not fit: read and dropped (a wait on that)
    b.send(chunk.as_bytes()).await;
    eventually(10, "b's data shed", || async {
        r.smtp.shed_messages() == 1
    })
    .await;
    b.send(b".\r\n").await;
    let rb = b.reply().await;
    assert!(rb.starts_with("452 4.3.1"), "{rb}");
    a.send(b".\r\n").await;
    let ra = a.reply().await;
    assert!(ra.starts_with("250 2.0.0"), "{ra}");
    // the budget is free again: b's retry goes through
    let retry = b
        .mail("s@remote.test", &["alice@example.test"], chunk.as_bytes())
        .await;
    assert!(retry.starts_with("250 2.0.0"), "{retry}");
    r.stop().await;
}

/// Regression (found by CI): adding users while mail is being ingested made
/// the read-then-write transaction fail with "database is locked".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_writes_and_ingest_do_not_lock_each_other_out() {
    let cfg = test_config("locks");
    let r = start_holding(&cfg).await;
    demo_domain(&r, "127.0.0.1", 9).await;
    let addr = r.smtp_addrs[0];
    let load = tokio::spawn(async move {
        let mut c = Client::connect(addr).await;
        c.cmd("EHLO c").await;
        for i in 0..150 {
            let body = format!("Subject: load {i}\r\n\r\nx\r\n");
            let reply = c
                .mail("s@remote.test", &["alice@example.test"], body.as_bytes())
                .await;
            assert!(reply.starts_with("250"), "{reply}");
        }
    });
    for i in 0..60 {
        r.store
            .add_user(&format!("user{i}@example.test"), "", &[], "local")
            .await
            .expect("add_user while ingesting");
    }
    load.await.unwrap();
    // an address already taken is refused, and nothing of the new user stays
    let e = r
        .store
        .add_user(
            "fresh@example.test",
            "",
            &["alice@example.test".into()],
            "local",
        )
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("alice@example.test already belongs"),
        "{e}"
    );
    let again = r
        .store
        .add_user("fresh@example.test", "", &[], "local")
        .await;
    assert!(
        again.is_ok(),
        "the refused attempt left nothing behind: {again:?}"
    );
    r.stop().await;
}

/// The first line a listener sends to a new connection.
async fn first_line(addr: std::net::SocketAddr, from: &str) -> String {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    let s = socket.connect(addr).await.unwrap();
    let mut line = String::new();
    let mut reader = tokio::io::BufReader::new(s);
    tokio::io::AsyncBufReadExt::read_line(&mut reader, &mut line)
        .await
        .unwrap();
    line
}

/// One machine cannot take every connection: SMTP, submission and IMAP
/// each hold a few per client address, and the others still get in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_client_address_gets_a_few_connections_only() {
    let mut cfg = test_config("per-ip");
    cfg.smtp.self_signed = true;
    cfg.smtp.max_connections_per_ip = 2;
    cfg.submission.listen = vec!["127.0.0.1:0".parse().unwrap()];
    cfg.imap.listen = vec!["127.0.0.1:0".parse().unwrap()];
    cfg.imap.max_connections_per_ip = 2;
    let r = start_holding(&cfg).await;
    for (addr, greeting, refusal) in [
        (
            r.smtp_addrs[0],
            "220 ",
            "421 4.7.0 Too many connections from your address",
        ),
        (
            r.submission_addrs[0],
            "220 ",
            "421 4.7.0 Too many connections from your address",
        ),
        (
            r.imap_addrs[0],
            "* OK",
            "* BYE Too many connections from your address",
        ),
    ] {
        let mut held = Vec::new();
        for _ in 0..2 {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let s = socket.connect(addr).await.unwrap();
            let mut reader = tokio::io::BufReader::new(s);
            let mut line = String::new();
            tokio::io::AsyncBufReadExt::read_line(&mut reader, &mut line)
                .await
                .unwrap();
            assert!(line.starts_with(greeting), "{line}");
            held.push(reader);
        }
        let line = first_line(addr, "127.0.0.1").await;
        assert!(line.starts_with(refusal), "{addr}: {line}");
        // another address of this machine is another client
        let line = first_line(addr, "127.0.0.2").await;
        assert!(line.starts_with(greeting), "{addr}: {line}");
        drop(held);
    }
    r.stop().await;
}

/// NOOP (or RSET, EHLO...) every few minutes cannot hold a session open
/// forever: after a few commands that move no mail, 421.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_that_moves_no_mail_is_ended() {
    let mut cfg = test_config("junk");
    cfg.smtp.max_junk_commands = 5;
    let r = start_holding(&cfg).await;
    demo_domain(&r, "127.0.0.1", 9).await;
    let mut c = Client::connect(r.smtp_addrs[0]).await;
    assert!(c.cmd("EHLO c").await.starts_with("250"));
    for _ in 0..3 {
        assert!(c.cmd("NOOP").await.starts_with("250"));
    }
    // a message accepted is progress: the count starts again
    let reply = c
        .mail(
            "s@remote.test",
            &["alice@example.test"],
            b"Subject: progress\r\n\r\nx\r\n",
        )
        .await;
    assert!(reply.starts_with("250"), "{reply}");
    for _ in 0..4 {
        assert!(c.cmd("RSET").await.starts_with("250"));
    }
    assert!(c.cmd("NOOP").await.starts_with("250"));
    let bye = c.cmd("NOOP").await;
    assert!(
        bye.starts_with("421 4.7.0") && bye.contains("without mail"),
        "{bye}"
    );
    r.stop().await;
}

/// The submission port gives a client a while to authenticate, counted
/// from connecting: talking meanwhile does not extend it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submission_waits_a_while_for_a_login_not_forever() {
    let mut cfg = test_config("sub-login");
    cfg.smtp.self_signed = true;
    cfg.submission.listen = vec!["127.0.0.1:0".parse().unwrap()];
    cfg.submission.login_timeout = Duration::from_millis(800);
    let r = start_holding(&cfg).await;
    let mut c = Client::connect(r.submission_addrs[0]).await;
    assert!(c.cmd("EHLO c").await.starts_with("250"));
    assert!(c.cmd("NOOP").await.starts_with("250"));
    // then nothing: the server ends it
    let bye = c.reply().await;
    assert!(
        bye.starts_with("421 4.7.0") && bye.contains("Authentication took too long"),
        "{bye}"
    );
    r.stop().await;
}
