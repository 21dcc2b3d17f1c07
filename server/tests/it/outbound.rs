//! Issue 6: outbound mail for domains we do not protect goes straight to the
//! recipient domain's MX hosts when no smarthost is configured — found with
//! the real resolver (hickory) asking a DNS server in this test, tried by
//! preference, the next one after a temporary failure; a domain that does
//! not exist or takes no mail (null MX) bounces, and the DSN lands in the
//! sender's continuity Inbox.

use crate::common;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use common::dns;
use common::*;
use hickory_resolver::proto::rr::rdata::{A, MX};
use hickory_resolver::proto::rr::{Name, RData};
use server::directory::{RcptVerdict, RecipientPolicy};
use server::queue::{Attempt, Outbound};
use server::store::mailbox::Folder;
use server::store::{MessageId, NewMessage, NewRecipient, Origin, Summary};

/// A DNS server for the test zone:
/// remote.test MX 10 mx1.remote.test, MX 20 mx2.remote.test;
/// mx1 A 127.0.0.1, mx2 A 127.0.0.2; plain.test (no MX) A 127.0.0.3;
/// nomail.test MX 0 . (RFC 7505); anything else NXDOMAIN.
async fn dns_server() -> SocketAddr {
    let mx = |p, host: &str| RData::MX(MX::new(p, dns::name(host)));
    let a = |ip: [u8; 4]| RData::A(A(Ipv4Addr::from(ip)));
    dns::serve(vec![
        ("remote.test".into(), mx(20, "mx2.remote.test")),
        ("remote.test".into(), mx(10, "mx1.remote.test")),
        ("nomail.test".into(), RData::MX(MX::new(0, Name::root()))),
        ("mx1.remote.test".into(), a([127, 0, 0, 1])),
        ("mx2.remote.test".into(), a([127, 0, 0, 2])),
        ("plain.test".into(), a([127, 0, 0, 3])),
    ])
    .await
}

const MSG: &[u8] = b"From: alice@example.test\r\nTo: x@remote.test\r\nSubject: out\r\nMessage-ID: <out-1@example.test>\r\n\r\nhello\r\n";

async fn send_out(r: &server::service::Running, rcpt: &str) -> MessageId {
    r.store
        .ingest(NewMessage {
            origin: Origin::Webmail,
            mail_from: "alice@example.test".into(),
            client_ip: None,
            helo: None,
            tls: false,
            summary: Summary::parse(MSG),
            raw: MSG.to_vec(),
            recipients: vec![NewRecipient {
                rcpt: rcpt.into(),
                domain: None,
                user: None,
            }],
            in_reply_to: None,
            sign_as: None,
        })
        .await
        .expect("stored")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_6_mail_goes_to_the_mx_hosts_in_order_and_undeliverable_domains_bounce() {
    let dns = dns_server().await;
    let mut cfg = test_config("direct");
    cfg.outbound.direct = true;
    cfg.outbound.nameservers = vec![dns];
    cfg.outbound.mx_port = 2999;
    let outbound = Outbound::from_config(&cfg.outbound, cfg.queue.timeout).expect("resolver");
    let d = Arc::new(ScriptedDeliverer::default());
    // mx1 is busy (temporary), mx2 takes it
    d.script
        .lock()
        .unwrap()
        .push(Attempt::Temporary("421 4.3.2 busy".into()));
    *d.default.lock().unwrap() = Some(Attempt::Accepted("250 2.0.0 Ok".into()));
    let r = server::service::start(
        &cfg,
        server::service::StartOptions {
            deliverer: Some(d.clone()),
            no_monitor: true,
            outbound: Some(outbound),
            ..Default::default()
        },
    )
    .await
    .expect("starts");
    demo_domain(&r, "primary.example.test", 25).await;

    let id = send_out(&r, "x@Remote.Test").await;
    eventually(15, "delivered through mx2", || async {
        statuses(&r.store, id).await == ["delivered"]
    })
    .await;
    let seen = d.seen();
    let tried: Vec<_> = seen
        .iter()
        .map(|(route, ..)| (route.host.clone(), route.port, route.tls_name.clone()))
        .collect();
    assert_eq!(
        tried,
        [
            (
                "127.0.0.1".to_string(),
                2999,
                Some("mx1.remote.test".to_string())
            ),
            (
                "127.0.0.2".to_string(),
                2999,
                Some("mx2.remote.test".to_string())
            ),
        ]
    );
    let rows = r.store.deliveries_of(id).await.unwrap();
    assert!(rows[0].last_reply.as_deref().unwrap_or("").contains("250"));

    // no MX: the domain's own address (implicit MX)
    let plain = send_out(&r, "y@plain.test").await;
    eventually(15, "delivered to plain.test", || async {
        statuses(&r.store, plain).await == ["delivered"]
    })
    .await;
    assert!(d
        .seen()
        .iter()
        .any(|(route, _, rcpt, _)| rcpt == "y@plain.test" && route.host == "127.0.0.3"));

    // a null MX and a domain that does not exist bounce at once, without a
    // connection, and the sender gets the DSN in their continuity Inbox
    let nomail = send_out(&r, "z@nomail.test").await;
    let gone = send_out(&r, "w@gone.test").await;
    eventually(15, "both bounced", || async {
        statuses(&r.store, nomail).await == ["bounced"]
            && statuses(&r.store, gone).await == ["bounced"]
    })
    .await;
    assert!(
        !d.seen()
            .iter()
            .any(|(_, _, rcpt, _)| rcpt.ends_with("nomail.test") || rcpt.ends_with("gone.test")),
        "no connection for undeliverable domains"
    );
    let reply = |id| {
        let store = r.store.clone();
        async move {
            store.deliveries_of(id).await.unwrap()[0]
                .last_reply
                .clone()
                .unwrap_or_default()
        }
    };
    assert!(
        reply(nomail).await.contains("5.1.10"),
        "{}",
        reply(nomail).await
    );
    assert!(
        reply(gone).await.contains("does not exist"),
        "{}",
        reply(gone).await
    );
    r.store.flush().await.unwrap();
    let snap = r.store.directory_snapshot().await.unwrap();
    let RcptVerdict::Accept {
        user: Some(alice), ..
    } = snap.check("alice@example.test")
    else {
        panic!("alice is a user");
    };
    eventually(10, "two DSNs in alice's Inbox", || async {
        let page = r
            .store
            .mailbox_page(alice, Folder::Inbox, None, 50)
            .await
            .unwrap();
        page.iter()
            .filter(|e| e.subject == "Undelivered Mail Returned to Sender")
            .count()
            == 2
    })
    .await;
    r.stop().await;
}
