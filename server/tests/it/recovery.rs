//! After an outage: the held backlog reaches the primary exactly once per
//! recipient, even when the service restarts in the middle of the flush
//! (gracefully, or after deliveries were claimed and never sent), and the
//! reconciliation report and held queue tell the truth throughout.

use crate::common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use server::monitor::{self, state::Input};
use server::queue::{Attempt, Deliverer, Route};
use server::store::{now_ms, DomainId, Store};

/// A primary that takes its time (so a flush can be interrupted) and
/// counts what it accepted, by Message-ID.
#[derive(Default)]
struct CountingPrimary {
    accepted: Mutex<HashMap<String, u32>>,
}

impl CountingPrimary {
    fn total(&self) -> usize {
        self.accepted.lock().unwrap().values().sum::<u32>() as usize
    }
    fn counts(&self) -> HashMap<String, u32> {
        self.accepted.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl Deliverer for CountingPrimary {
    async fn deliver(&self, _: &Route, _: &str, rcpts: &[&str], message: &[u8]) -> Vec<Attempt> {
        tokio::time::sleep(Duration::from_millis(40)).await;
        let text = String::from_utf8_lossy(message);
        let id = text
            .lines()
            .find_map(|l| l.strip_prefix("Message-ID: "))
            .unwrap_or("?")
            .to_string();
        *self.accepted.lock().unwrap().entry(id).or_default() += rcpts.len() as u32;
        vec![Attempt::Accepted("250 2.0.0 Ok: queued".into()); rcpts.len()]
    }
}

async fn send_all(r: &server::service::Running, n: usize) {
    let mut c = common::Client::connect(r.smtp_addrs[0]).await;
    c.cmd("EHLO client.remote.test").await;
    for i in 0..n {
        let rcpt = ["alice@example.test", "bob@example.test"][i % 2];
        let data = format!(
            "From: x@remote.test\r\nTo: {rcpt}\r\nSubject: held {i}\r\nMessage-ID: <held-{i}@remote.test>\r\n\r\nbody {i}\r\n"
        );
        let reply = c.mail("x@remote.test", &[rcpt], data.as_bytes()).await;
        assert!(reply.starts_with("250"), "{reply}");
    }
}

async fn domain(store: &Store) -> DomainId {
    store
        .domain_by_name("example.test")
        .await
        .expect("q")
        .expect("domain")
        .id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_in_the_middle_of_the_flush_delivers_each_held_message_once() {
    const N: usize = 40;
    let mut cfg = common::test_config("recovery-restart");
    // slow enough to stop in the middle: 20 a second
    cfg.queue.recovery_rate = 20;
    let primary = Arc::new(CountingPrimary::default());

    // 1. the primary is down (by hand here: the monitor has its own tests)
    let r = common::start(&cfg, Some(primary.clone())).await;
    common::demo_domain(&r, "127.0.0.1", 9).await;
    let d = domain(&r.store).await;
    monitor::command(
        &r.store,
        "mx",
        d,
        Input::ActivateNow {
            by: "the test".into(),
        },
    )
    .await
    .expect("activate");
    send_all(&r, N).await;
    let q = r.store.held_queue(d).await.expect("held");
    assert_eq!((q.waiting, q.via_continuity), (N as i64, N as i64));
    assert!(q.oldest.is_some());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(primary.total(), 0, "nothing reaches a primary in an outage");

    // the report while it lasts: all held, nothing delivered yet
    let ep = r.store.last_outage(d).await.expect("q").expect("episode");
    assert_eq!(ep.end, None);
    let rows = r
        .store
        .reconciliation(d, ep.start, None, None)
        .await
        .expect("report");
    let by: HashMap<_, _> = rows
        .iter()
        .map(|r| (r.address.as_str(), (r.held, r.delivered, r.pending)))
        .collect();
    assert_eq!(by["alice@example.test"], (N as i64 / 2, 0, N as i64 / 2));
    assert_eq!(by["bob@example.test"], (N as i64 / 2, 0, N as i64 / 2));

    // 2. the primary is back; stop the service in the middle of the flush
    monitor::command(
        &r.store,
        "mx",
        d,
        Input::End {
            by: "the test".into(),
        },
    )
    .await
    .expect("end");
    common::eventually(20, "part of the backlog delivered", || async {
        primary.total() >= 10
    })
    .await;
    r.stop().await;
    let first = primary.total();
    assert!(first < N, "stopped in the middle ({first} of {N})");

    // 3. a second start finds claims that were never sent (a crash right
    //    after claiming): they are requeued, not lost and not doubled
    let store = Store::connect(&cfg.store).await.expect("store");
    let claimed = store
        .claim_due(&cfg.node_id, 3, now_ms() + 1)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 3);
    drop(store);

    // 4. restart: the rest is delivered, each message exactly once
    let r = common::start(&cfg, Some(primary.clone())).await;
    common::eventually(30, "the whole backlog delivered", || async {
        primary.total() >= N
    })
    .await;
    // nothing left to try: the counts are final
    common::eventually(30, "nothing pending", || async {
        r.store.pending_for_domain(d).await.expect("pending") == 0
    })
    .await;
    let counts = primary.counts();
    assert_eq!(counts.len(), N, "every message arrived");
    assert!(
        counts.values().all(|&c| c == 1),
        "each exactly once: {counts:?}"
    );

    // the state returns to normal once the backlog is gone (the monitor is
    // off in these tests: the flush is what the queue reports)
    assert_eq!(r.store.held_queue(d).await.expect("held").waiting, 0);
    let rows = r
        .store
        .reconciliation(d, ep.start, None, None)
        .await
        .expect("report");
    for row in &rows {
        assert_eq!(
            (row.held, row.delivered, row.pending, row.failed),
            (N as i64 / 2, N as i64 / 2, 0, 0),
            "{row:?}"
        );
    }
    // one user's own line
    let alice = r
        .store
        .account_by_address("alice@example.test")
        .await
        .expect("q")
        .expect("alice")
        .user;
    let mine = r
        .store
        .reconciliation(d, ep.start, None, Some(alice))
        .await
        .expect("report");
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].address, "alice@example.test");
    r.stop().await;
}
