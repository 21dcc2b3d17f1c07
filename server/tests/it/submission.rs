//! Issue 6: the submission listener (RFC 6409) over real sockets — a user's
//! mail app (lettre: STARTTLS, AUTH PLAIN) sends through it; the domain's
//! own server relays with its credentials or from its network; and every
//! way to use it as an open relay, or to send as someone else, is refused.
//! Sending limits are in [`limits`], DKIM signing at delivery in [`dkim`].

mod dkim;
mod limits;

use crate::common;

use std::sync::Arc;

use common::*;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use server::auth::token;
use server::directory::{RcptVerdict, RecipientPolicy};
use server::queue::{Outbound, Route};
use server::service::{Running, StartOptions};
use server::store::mailbox::Folder;
use server::store::UserId;

const PW: &str = "velvet-harbor-Quokka-87";
const RELAY_SECRET: &str = "cty_relay_test-secret";

async fn setup(tag: &str) -> (Running, Arc<ScriptedDeliverer>) {
    let mut cfg = test_config(tag);
    cfg.smtp.self_signed = true;
    cfg.submission.listen = vec!["127.0.0.1:0".parse().unwrap()];
    cfg.submission.tls_listen = vec!["127.0.0.1:0".parse().unwrap()];
    let d = ScriptedDeliverer::accepting();
    let r = server::service::start(
        &cfg,
        StartOptions {
            deliverer: Some(d.clone()),
            no_monitor: true,
            outbound: Some(Outbound {
                smarthost: Some(Route::new(
                    "smarthost.test",
                    587,
                    server::config::TlsMode::Required,
                )),
                direct: None,
            }),
            ..Default::default()
        },
    )
    .await
    .expect("starts");
    demo_domain(&r, "primary.example.test", 25).await;
    for u in ["alice", "bob"] {
        r.auth
            .set_password(&format!("{u}@example.test"), PW)
            .await
            .expect("password");
    }
    let dom = r
        .store
        .domain_by_name("example.test")
        .await
        .unwrap()
        .unwrap();
    r.store
        .set_relay_secret(dom.id, Some(&token::sha256(RELAY_SECRET.as_bytes())))
        .await
        .unwrap();
    (r, d)
}

fn client(
    r: &Running,
    implicit: bool,
    user: &str,
    password: &str,
) -> AsyncSmtpTransport<Tokio1Executor> {
    let addr = r.submission_addrs[if implicit { 1 } else { 0 }];
    let tls = TlsParameters::builder("mx.continuity.test".into())
        .dangerous_accept_invalid_certs(true)
        .build_rustls()
        .unwrap();
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(addr.port())
        .tls(if implicit {
            Tls::Wrapper(tls)
        } else {
            Tls::Required(tls)
        })
        .credentials(Credentials::new(user.into(), password.into()))
        .build()
}

async fn user(r: &Running, address: &str) -> UserId {
    let snap = r.store.directory_snapshot().await.unwrap();
    match snap.check(address) {
        RcptVerdict::Accept { user: Some(u), .. } => u,
        other => panic!("{address}: {other:?}"),
    }
}

async fn subjects(r: &Running, address: &str, folder: Folder) -> Vec<String> {
    r.store.flush().await.unwrap();
    let u = user(r, address).await;
    r.store
        .mailbox_page(u, folder, None, 50)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.subject)
        .collect()
}

/// The SMTP reply code of a refusal (the error is the point: not any error).
fn code(e: &lettre::transport::smtp::Error) -> String {
    e.status().map(|c| c.to_string()).unwrap_or_default()
}

fn env(from: &str, to: &[&str]) -> Envelope {
    Envelope::new(
        Some(from.parse().unwrap()),
        to.iter().map(|t| t.parse().unwrap()).collect(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_6_a_mail_app_sends_through_submission_over_starttls_and_tls() {
    let (r, d) = setup("sub-user").await;
    let c = client(&r, false, "alice@example.test", PW);
    let msg = b"From: Alice <alice@example.test>\r\nTo: friend@remote.test, bob@example.test\r\nSubject: from my phone\r\n\r\nSent during the outage.\r\n";
    c.send_raw(
        &env(
            "alice@example.test",
            &["friend@remote.test", "bob@example.test"],
        ),
        msg,
    )
    .await
    .expect("accepted");
    // implicit TLS (465) with an alias as sender
    let c = client(&r, true, "alice@example.test", PW);
    let msg2 = b"From: a.alias <alice.alias@example.test>\r\nTo: friend@remote.test\r\nSubject: over tls\r\n\r\nSecond.\r\n";
    c.send_raw(
        &env("alice.alias@example.test", &["friend@remote.test"]),
        msg2,
    )
    .await
    .expect("accepted over implicit TLS");

    // Sent, the colleague's Inbox, and out through the smarthost
    let sent = subjects(&r, "alice@example.test", Folder::Sent).await;
    assert!(
        sent.contains(&"from my phone".to_string()) && sent.contains(&"over tls".to_string()),
        "{sent:?}"
    );
    assert!(subjects(&r, "bob@example.test", Folder::Inbox)
        .await
        .contains(&"from my phone".to_string()));
    eventually(
        10,
        "out through the smarthost, and alice's own copy to her primary",
        || async {
            let seen = d.seen();
            seen.iter().any(|(route, _, rcpt, _)| {
                route.host == "smarthost.test" && rcpt == "friend@remote.test"
            }) && seen.iter().any(|(route, _, rcpt, _)| {
                route.host == "primary.example.test" && rcpt == "alice@example.test"
            })
        },
    )
    .await;
    let (_, from, _, bytes) = d
        .seen()
        .into_iter()
        .find(|(_, _, rcpt, b)| {
            rcpt == "friend@remote.test" && String::from_utf8_lossy(b).contains("from my phone")
        })
        .unwrap();
    assert_eq!(from, "alice@example.test");
    let text = String::from_utf8_lossy(&bytes);
    // RFC 6409 §8: the submission server completed the header
    assert!(
        text.contains("\r\nDate: ") && text.contains("\r\nMessage-ID: <"),
        "{text}"
    );
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_6_submission_is_never_an_open_relay_nor_a_forgery_tool() {
    let (r, d) = setup("sub-abuse").await;
    let stored_before = r.store.message_count().await.unwrap();
    // without AUTH: nothing, even to a local user
    let mut c = Client::connect(r.submission_addrs[0]).await;
    let ehlo = c.cmd("EHLO attacker.test").await;
    assert!(!ehlo.contains("AUTH"), "no AUTH before TLS: {ehlo}");
    assert!(c
        .cmd("MAIL FROM:<alice@example.test>")
        .await
        .starts_with("530 5.7.0"));
    assert!(c
        .cmd("RCPT TO:<victim@remote.test>")
        .await
        .starts_with("503"));
    assert!(c
        .cmd("AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdAB4")
        .await
        .starts_with("538 5.7.11"));
    // the inbound port does not relay either, nor take AUTH
    let mut m = Client::connect(r.smtp_addrs[0]).await;
    m.cmd("EHLO attacker.test").await;
    assert!(m
        .cmd("AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdAB4")
        .await
        .starts_with("503"));
    m.cmd("MAIL FROM:<alice@example.test>").await;
    assert!(m
        .cmd("RCPT TO:<victim@remote.test>")
        .await
        .starts_with("550 5.7.1"));

    // a wrong password, or someone else's
    let bad = client(&r, false, "alice@example.test", "guess");
    let e = bad
        .send_raw(
            &env("alice@example.test", &["victim@remote.test"]),
            b"Subject: x\r\n\r\nx\r\n",
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), "535", "{e}");
    // authenticated, but sending as bob (envelope) or with bob in From
    let c = client(&r, false, "alice@example.test", PW);
    let e = c
        .send_raw(
            &env("bob@example.test", &["victim@remote.test"]),
            b"From: bob@example.test\r\n\r\nx\r\n",
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), "553", "{e}");
    let e = c
        .send_raw(
            &env("alice@example.test", &["victim@remote.test"]),
            b"From: The Bank <ceo@bank.test>\r\nSubject: pay\r\n\r\nx\r\n",
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), "550", "{e}");
    assert!(e.to_string().contains("From header"), "{e}");
    let e = c
        .send_raw(
            &env("alice@example.test", &["victim@remote.test"]),
            b"Subject: no author\r\n\r\nx\r\n",
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), "550", "{e}");
    assert!(e.to_string().contains("From header"), "{e}");
    // the relay credentials of the domain do not make an open relay
    let primary = client(&r, false, "example.test", "not-the-secret");
    let e = primary
        .send_raw(
            &env("news@example.test", &["x@remote.test"]),
            b"From: news@example.test\r\n\r\nx\r\n",
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), "535", "{e}");
    let primary = client(&r, false, "example.test", RELAY_SECRET);
    let e = primary
        .send_raw(
            &env("spam@other.test", &["x@remote.test"]),
            b"From: spam@other.test\r\n\r\nx\r\n",
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), "553", "{e}");
    // nothing at all was relayed: refused before anything was stored
    r.store.flush().await.unwrap();
    assert_eq!(r.store.message_count().await.unwrap(), stored_before);
    assert!(
        !d.seen()
            .iter()
            .any(|(_, _, rcpt, _)| rcpt == "victim@remote.test" || rcpt == "x@remote.test"),
        "{:?}",
        d.seen().iter().map(|s| s.2.clone()).collect::<Vec<_>>()
    );
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_6_the_domains_own_server_relays_and_fills_the_senders_sent() {
    let (r, d) = setup("sub-primary").await;
    // with its credentials: bob's normal outbound mail, archived into his Sent
    let primary = client(&r, false, "example.test", RELAY_SECRET);
    primary
        .send_raw(
            &env("bob@example.test", &["partner@remote.test"]),
            b"From: Bob <bob@example.test>\r\nTo: partner@remote.test\r\nSubject: quarterly figures\r\nDate: Wed, 02 Dec 2026 10:00:00 +0000\r\nMessage-ID: <q1@example.test>\r\n\r\nSee attached.\r\n",
        )
        .await
        .expect("relayed");
    assert!(subjects(&r, "bob@example.test", Folder::Sent)
        .await
        .contains(&"quarterly figures".to_string()));
    // from its network, without AUTH (and a bounce with the null sender)
    let dom = r
        .store
        .domain_by_name("example.test")
        .await
        .unwrap()
        .unwrap();
    r.store
        .set_relay_networks(dom.id, &["127.0.0.0/8".into()])
        .await
        .unwrap();
    let mut c = Client::connect(r.submission_addrs[0]).await;
    c.cmd("EHLO mail.example.test").await;
    let reply = c
        .mail(
            "carol@example.test",
            &["partner@remote.test"],
            b"From: carol@example.test\r\nSubject: from the network\r\n\r\nhi\r\n",
        )
        .await;
    assert!(reply.starts_with("250"), "{reply}");
    let reply = c
        .mail(
            "",
            &["partner@remote.test"],
            b"From: MAILER-DAEMON@example.test\r\nSubject: bounce\r\n\r\nx\r\n",
        )
        .await;
    assert!(reply.starts_with("250"), "{reply}");
    eventually(10, "all three out through the smarthost", || async {
        d.seen()
            .iter()
            .filter(|(route, _, rcpt, _)| {
                route.host == "smarthost.test" && rcpt == "partner@remote.test"
            })
            .count()
            == 3
    })
    .await;
    // never a copy back to the primary it came from
    assert!(!d
        .seen()
        .iter()
        .any(|(route, ..)| route.host == "primary.example.test"));
    // other networks: not the domain's
    r.store
        .set_relay_networks(dom.id, &["192.0.2.0/24".into()])
        .await
        .unwrap();
    let mut c = Client::connect(r.submission_addrs[0]).await;
    c.cmd("EHLO mail.example.test").await;
    assert!(c
        .cmd("MAIL FROM:<carol@example.test>")
        .await
        .starts_with("530"));
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domains_server_sends_its_own_domains_mail_only() {
    let (r, _d) = setup("sub-tenant").await;
    let dom = r
        .store
        .domain_by_name("example.test")
        .await
        .unwrap()
        .unwrap();
    // another tenant owns a subdomain of example.test
    let other = r
        .store
        .add_domain(
            "eu.example.test",
            "primary.eu.example.test",
            25,
            server::config::TlsMode::None,
        )
        .await
        .expect("tenant");
    r.store
        .add_user("erin@eu.example.test", "Erin", &[], "local")
        .await
        .expect("erin");
    r.directory.refresh(&r.store).await;
    // networks: nothing another domain claims, nothing too broad
    r.store
        .set_relay_networks(dom.id, &["127.0.0.0/8".into()])
        .await
        .unwrap();
    let e = r
        .store
        .set_relay_networks(other.id, &["127.0.0.5/32".into()])
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("already used by another domain"),
        "{e}"
    );
    let mut c = Client::connect(r.submission_addrs[0]).await;
    c.cmd("EHLO mail.example.test").await;
    // its own subdomains that nobody else protects: fine
    let reply = c
        .mail(
            "alerts@ops.example.test",
            &["partner@remote.test"],
            b"From: alerts@ops.example.test\r\nSubject: disk\r\n\r\nfull\r\n",
        )
        .await;
    assert!(reply.starts_with("250"), "{reply}");
    // the other tenant's subdomain (and below it): refused at MAIL
    for sender in ["erin@eu.example.test", "x@mx.eu.example.test"] {
        let reply = c.cmd(&format!("MAIL FROM:<{sender}>")).await;
        assert!(reply.starts_with("553 5.7.1"), "{sender}: {reply}");
    }
    // a From header of another domain (envelope fine): refused at the end
    let reply = c
        .mail(
            "bob@example.test",
            &["partner@remote.test"],
            b"From: erin@eu.example.test\r\nSubject: forged\r\n\r\nx\r\n",
        )
        .await;
    assert!(reply.starts_with("550 5.7.1"), "{reply}");
    let reply = c
        .mail(
            "bob@example.test",
            &["partner@remote.test"],
            b"From: ceo@bank.test\r\nSubject: forged\r\n\r\nx\r\n",
        )
        .await;
    assert!(reply.starts_with("550 5.7.1"), "{reply}");
    // nothing landed in erin's Sent
    assert!(subjects(&r, "erin@eu.example.test", Folder::Sent)
        .await
        .is_empty());
    r.stop().await;
}
