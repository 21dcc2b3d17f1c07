//! Sending limits on the submission listener: a domain's server and a
//! user each send at most their hourly limit, and the one over keeps
//! nothing.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domains_server_relays_at_most_its_hourly_limit() {
    let mut cfg = test_config("sub-rate");
    cfg.smtp.self_signed = true;
    cfg.submission.listen = vec!["127.0.0.1:0".parse().unwrap()];
    cfg.submission.relay_max_per_hour = 2;
    let r = start(&cfg, Some(ScriptedDeliverer::accepting())).await;
    demo_domain(&r, "primary.example.test", 25).await;
    let dom = r
        .store
        .domain_by_name("example.test")
        .await
        .unwrap()
        .unwrap();
    r.store
        .set_relay_networks(dom.id, &["127.0.0.1/32".into()])
        .await
        .unwrap();
    let mut c = Client::connect(r.submission_addrs[0]).await;
    c.cmd("EHLO mail.example.test").await;
    for i in 0..2 {
        let reply = c
            .mail(
                "bob@example.test",
                &["partner@remote.test"],
                format!("From: bob@example.test\r\nSubject: n{i}\r\n\r\nx\r\n").as_bytes(),
            )
            .await;
        assert!(reply.starts_with("250"), "{reply}");
    }
    let reply = c
        .mail(
            "bob@example.test",
            &["partner@remote.test"],
            b"From: bob@example.test\r\nSubject: one too many\r\n\r\nx\r\n",
        )
        .await;
    assert!(reply.starts_with("450 4.7.1"), "{reply}");
    r.stop().await;
}

/// A user sends at most `web.max_sends_per_hour` messages an hour, from
/// their mail app as from the webmail: the one over is answered 450 and
/// nothing of it is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_sends_at_most_their_hourly_limit() {
    let mut cfg = test_config("sub-user-rate");
    cfg.smtp.self_signed = true;
    cfg.submission.listen = vec!["127.0.0.1:0".parse().unwrap()];
    cfg.web.max_sends_per_hour = 2;
    let r = start(&cfg, Some(ScriptedDeliverer::accepting())).await;
    demo_domain(&r, "primary.example.test", 25).await;
    r.auth
        .set_password("alice@example.test", PW)
        .await
        .expect("password");
    let c = client(&r, false, "alice@example.test", PW);
    let msg = |n: usize| {
        format!("From: alice@example.test\r\nTo: friend@remote.test\r\nSubject: n{n}\r\n\r\nx\r\n")
    };
    for n in 0..2 {
        c.send_raw(
            &env("alice@example.test", &["friend@remote.test"]),
            msg(n).as_bytes(),
        )
        .await
        .expect("under the limit");
    }
    let stored = r.store.message_count().await.unwrap();
    let e = c
        .send_raw(
            &env("alice@example.test", &["friend@remote.test"]),
            msg(2).as_bytes(),
        )
        .await
        .expect_err("over the limit");
    assert_eq!(code(&e), "450", "{e}");
    assert_eq!(r.store.message_count().await.unwrap(), stored);
    r.stop().await;
}
