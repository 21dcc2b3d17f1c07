//! Two stores on one database — two nodes on one PostgreSQL, or two
//! processes on one SQLite file: what one commits the other reads, and
//! each due delivery is claimed by one of them only.

use std::collections::HashSet;

use crate::common;

use server::config::TlsMode;
use server::store::{
    now_ms, NewMessage, NewRecipient, Origin, Outcome, Store, StoreError, Summary,
};

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
    let claim_all = |s: Store, node: &'static str| async move {
        let mut got = Vec::new();
        loop {
            let c = s.claim_due(node, 7, now_ms() + 1).await.expect("claim");
            if c.is_empty() {
                return got;
            }
            got.extend(c.into_iter().map(|c| c.delivery.0));
        }
    };
    let (from_a, from_b) = tokio::join!(
        tokio::spawn(claim_all(a.clone(), "a")),
        tokio::spawn(claim_all(b.clone(), "b"))
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

/// A node that dies mid-attempt: its claims are its own while it renews
/// them, another node takes them back once the lease ran out (not only at
/// the dead node's restart), and the dead node can no longer record an
/// outcome for them. A restart puts back only the restarting node's claims.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_of_a_node_that_stops_renewing_are_taken_back_by_another() {
    let dir = common::temp_dir("takeover");
    let a = server::store::testing::open(&dir).await.expect("store a");
    let b = server::store::testing::open(&dir).await.expect("store b");
    let domain = a
        .add_domain("example.test", "127.0.0.1", 2526, TlsMode::None)
        .await
        .expect("domain")
        .id;
    ingest_for(&a, domain, 3).await;
    let lease = server::store::CLAIM_LEASE.as_millis() as i64;
    let delivered = || Outcome::Delivered {
        reply: "250 ok".into(),
        remote: "primary".into(),
    };
    let t0 = now_ms() + 1;
    let held = a.claim_due("a", 10, t0).await.expect("a claims");
    assert_eq!(held.len(), 3);
    assert!(held.iter().all(|c| c.node == "a"));
    assert!(b.claim_due("b", 10, t0 + 1).await.expect("b").is_empty());
    // a renews in time: still a's after the first lease's end
    let renewed_at = t0 + 5_000;
    assert_eq!(
        a.renew_claims("a", renewed_at + lease)
            .await
            .expect("renew"),
        3
    );
    assert!(b
        .claim_due("b", 10, t0 + lease + 1)
        .await
        .expect("b")
        .is_empty());
    a.record_outcome(&held[0], delivered())
        .await
        .expect("a records its own outcome");
    // a dies: b takes the other two once the renewed lease ran out
    let dead = renewed_at + lease;
    assert!(b.claim_due("b", 10, dead - 1).await.expect("b").is_empty());
    let taken = b.claim_due("b", 10, dead + 1).await.expect("b takes back");
    let mut got: Vec<i64> = taken.iter().map(|c| c.delivery.0).collect();
    got.sort();
    let mut want: Vec<i64> = held[1..].iter().map(|c| c.delivery.0).collect();
    want.sort();
    assert_eq!(got, want, "exactly the unfinished ones");
    let events = a.events_of(held[1].message).await.expect("events");
    assert!(
        events
            .iter()
            .any(|e| e.kind == "requeued" && e.detail.contains("\"a\"")),
        "the takeover is recorded, naming the node: {events:?}"
    );
    // a comes back from the dead too late: its outcome is refused
    match a.record_outcome(&held[1], delivered()).await {
        Err(StoreError::NotFound(_)) => {}
        other => panic!("a recorded an outcome for b's claim: {other:?}"),
    }
    for c in &taken {
        b.record_outcome(c, delivered()).await.expect("b records");
    }
    for c in &held {
        let d = a.deliveries_of(c.message).await.expect("deliveries");
        assert_eq!(d[0].status, "delivered");
        assert_eq!(d[0].attempts, 1, "one recorded attempt each");
    }

    // a restart puts back the restarting node's claims only
    ingest_for(&a, domain, 1).await;
    let t1 = now_ms() + 1;
    let by_b = b.claim_due("b", 10, t1).await.expect("b claims");
    assert_eq!(by_b.len(), 1);
    assert_eq!(a.requeue_interrupted("a").await.expect("a restarts"), 0);
    assert_eq!(b.requeue_interrupted("b").await.expect("b restarts"), 1);
    let again = a
        .claim_due("a", 10, now_ms() + 1)
        .await
        .expect("claimable again");
    assert_eq!(again.len(), 1);
}
