//! Two stores on one database — two nodes on one PostgreSQL, or two
//! processes on one SQLite file: what one commits the other reads, and
//! each due delivery is claimed by one of them only.

use std::collections::HashSet;

use crate::common;

use server::config::TlsMode;
use server::store::{
    now_ms, MailboxEvent, NewMessage, NewRecipient, Origin, Outcome, Store, StoreError, Summary,
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
                sign_as: None,
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

/// A change to a mailbox made through one node wakes the IMAP sessions of
/// every node (LISTEN/NOTIFY on PostgreSQL); a node does not hear its own
/// changes twice. On SQLite there is one node: nothing to carry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mailbox_change_on_one_node_reaches_the_others() {
    let dir = common::temp_dir("bus");
    let a = server::store::testing::open(&dir).await.expect("store a");
    if a.backend() == server::store::db::Backend::Sqlite {
        return;
    }
    let b = server::store::testing::open(&dir).await.expect("store b");
    let mut on_b = b.mailbox_events();
    let mut on_a = a.mailbox_events();
    // b's listener may still be connecting: ask until it hears
    let user = server::store::UserId(42);
    let heard = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            a.mailbox_changed(user);
            match tokio::time::timeout(std::time::Duration::from_millis(200), on_b.recv()).await {
                Ok(Ok(MailboxEvent::Changed(u))) => return u,
                Ok(Ok(MailboxEvent::Missed)) | Err(_) => continue,
                Ok(Err(e)) => panic!("b's events: {e}"),
            }
        }
    })
    .await
    .expect("b heard a's change");
    assert_eq!(heard, user);
    // a heard its own change once, from itself, not again through the database
    let mut own = 0;
    while let Ok(Ok(ev)) =
        tokio::time::timeout(std::time::Duration::from_millis(500), on_a.recv()).await
    {
        assert_eq!(ev, MailboxEvent::Changed(user));
        own += 1;
    }
    assert!(own >= 1);
    // one more: exactly one event on a
    a.mailbox_changed(server::store::UserId(7));
    let mut n = 0;
    while let Ok(Ok(ev)) =
        tokio::time::timeout(std::time::Duration::from_millis(500), on_a.recv()).await
    {
        assert_eq!(ev, MailboxEvent::Changed(server::store::UserId(7)));
        n += 1;
    }
    assert_eq!(n, 1, "a node does not hear its own changes back");
}

/// Five wrong passwords from one source spread over two nodes still hold
/// that source for the account (the failures each node records are
/// counted by the other); the owner from elsewhere still gets in. On
/// SQLite there is one node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_failures_spread_over_two_nodes_add_up() {
    use server::auth::{Auth, LoginError};
    let dir = common::temp_dir("throttle-nodes");
    let a = server::store::testing::open(&dir).await.expect("store a");
    if a.backend() == server::store::db::Backend::Sqlite {
        return;
    }
    let b = server::store::testing::open(&dir).await.expect("store b");
    a.add_domain("example.test", "127.0.0.1", 2526, TlsMode::None)
        .await
        .expect("domain");
    a.add_user("alice@example.test", "Alice", &[], "local")
        .await
        .expect("alice");
    let web = common::mailuser::web_config(&dir);
    let on_a = Auth::new(a.clone(), &web).await.expect("auth a");
    let on_b = Auth::new(b.clone(), &web).await.expect("auth b");
    let pw = common::mailuser::PW;
    on_a.set_password("alice@example.test", pw)
        .await
        .expect("password");
    let attacker = "203.0.113.9";
    // 2 on a, 2 on b, 1 on a: five in all, never five on one node
    for (i, node) in [&on_a, &on_b, &on_a, &on_b, &on_a].into_iter().enumerate() {
        let r = node
            .verify_user(
                "alice@example.test",
                "wrong-guess-1",
                attacker,
                server::auth::Channel::Imap,
            )
            .await;
        assert!(matches!(r, Err(LoginError::Invalid)), "{r:?}");
        // what a node records reaches the database within a moment
        common::eventually(10, "the failure recorded", || async {
            let seen = a
                .login_failures_elsewhere("-", attacker, "", 0)
                .await
                .expect("count");
            seen.source == i + 1
        })
        .await;
    }
    for node in [&on_a, &on_b] {
        let r = node
            .verify_user(
                "alice@example.test",
                pw,
                attacker,
                server::auth::Channel::Imap,
            )
            .await;
        assert!(
            matches!(r, Err(LoginError::Throttled)),
            "the guessing source is held on every node: {r:?}"
        );
    }
    let owner = on_b
        .verify_user(
            "alice@example.test",
            pw,
            "198.51.100.4",
            server::auth::Channel::Imap,
        )
        .await;
    assert!(owner.is_ok(), "the owner still gets in: {owner:?}");
}

/// A primary's temporary failure met by one node's queue reaches the
/// other nodes (where the monitor's leader feeds it to the domain's state
/// machine), and not the node that met it, whose own monitor heard it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_failure_seen_by_one_node_reaches_the_others() {
    let dir = common::temp_dir("trouble");
    let a = server::store::testing::open(&dir).await.expect("store a");
    if a.backend() == server::store::db::Backend::Sqlite {
        return;
    }
    let b = server::store::testing::open(&dir).await.expect("store b");
    let mut on_b = b.trouble_events();
    let mut on_a = a.trouble_events();
    let d = server::store::DomainId(3);
    let why = "451 4.3.0 primary busy: é".repeat(100);
    let got = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            a.report_trouble(d, &why);
            if let Ok(Ok(t)) =
                tokio::time::timeout(std::time::Duration::from_millis(200), on_b.recv()).await
            {
                return t;
            }
        }
    })
    .await
    .expect("b heard a's failure");
    assert_eq!(got.0, d);
    assert!(
        why.starts_with(&got.1) && got.1.len() >= 900,
        "{}",
        got.1.len()
    );
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(500), on_a.recv())
            .await
            .is_err(),
        "a does not hear its own"
    );
}

/// A domain's server relaying through two nodes is held to one hourly
/// limit, and the hour slides (the relay counts live in the database when
/// nodes share one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domains_hourly_relay_limit_holds_across_nodes() {
    let dir = common::temp_dir("relay-nodes");
    let a = server::store::testing::open(&dir).await.expect("store a");
    if a.backend() == server::store::db::Backend::Sqlite {
        return;
    }
    let b = server::store::testing::open(&dir).await.expect("store b");
    let d = a
        .add_domain("example.test", "127.0.0.1", 2526, TlsMode::None)
        .await
        .expect("domain")
        .id;
    let minute = 29_000_000;
    assert_eq!(a.relay_take(d, minute, 3).await.expect("a"), Ok(()));
    assert_eq!(b.relay_take(d, minute, 3).await.expect("b"), Ok(()));
    assert_eq!(a.relay_take(d, minute + 30, 3).await.expect("a"), Ok(()));
    assert_eq!(b.relay_take(d, minute + 30, 3).await.expect("b"), Err(3));
    // an hour after the first two, their minute no longer counts
    assert_eq!(b.relay_take(d, minute + 59, 3).await.expect("b"), Err(3));
    assert_eq!(b.relay_take(d, minute + 60, 3).await.expect("b"), Ok(()));
    assert_eq!(a.relay_take(d, minute + 60, 3).await.expect("a"), Ok(()));
    assert_eq!(a.relay_take(d, minute + 61, 3).await.expect("a"), Err(3));
}
