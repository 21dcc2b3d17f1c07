//! Two stores on one database — two nodes on one PostgreSQL, or two
//! processes on one SQLite file: what one commits the other reads, and
//! each due delivery is claimed by one of them only.

use std::collections::HashSet;

use crate::common;

use server::config::TlsMode;
use server::store::{now_ms, NewMessage, NewRecipient, Origin, Store, Summary};

async fn ingest_for(store: &Store, domain: server::store::DomainId, n: usize) {
    for i in 0..n {
        let raw = format!(
            "From: s@remote.test\r\nTo: alice@example.test\r\nSubject: n{i}\r\n\r\nbody {i}\r\n"
        )
        .into_bytes();
        store
            .ingest(NewMessage {
                origin: Origin::Smtp,
                mail_from: "s@remote.test".into(),
                client_ip: None,
                helo: None,
                tls: false,
                summary: Summary::parse(&raw),
                raw,
                recipients: vec![NewRecipient {
                    rcpt: "alice@example.test".into(),
                    domain: Some(domain),
                    user: None,
                }],
                in_reply_to: None,
            })
            .await
            .expect("ingest");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_on_one_database_claim_each_delivery_once() {
    let dir = common::temp_dir("shared");
    let a = server::store::testing::open(&dir).await.expect("store a");
    let b = server::store::testing::open(&dir).await.expect("store b");
    let domain = a
        .add_domain("example.test", "127.0.0.1", 2526, TlsMode::None)
        .await
        .expect("domain")
        .id;
    // what a commits, b reads
    assert!(b
        .domain_by_name("example.test")
        .await
        .expect("read")
        .is_some());
    ingest_for(&a, domain, 150).await;
    ingest_for(&b, domain, 150).await;
    let claim_all = |s: Store| async move {
        let mut got = Vec::new();
        loop {
            let c = s.claim_due(7, now_ms() + 1).await.expect("claim");
            if c.is_empty() {
                return got;
            }
            got.extend(c.into_iter().map(|c| c.delivery.0));
        }
    };
    let (from_a, from_b) = tokio::join!(
        tokio::spawn(claim_all(a.clone())),
        tokio::spawn(claim_all(b.clone()))
    );
    let (from_a, from_b) = (from_a.expect("a"), from_b.expect("b"));
    let all: HashSet<i64> = from_a.iter().chain(&from_b).copied().collect();
    assert_eq!(
        all.len(),
        from_a.len() + from_b.len(),
        "a delivery was claimed twice"
    );
    assert_eq!(all.len(), 300, "every delivery claimed");
}
