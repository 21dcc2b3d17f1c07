//! The queue claims deliveries a batch of slots at a time (one commit for
//! several), yet slots held by a slow server never leave the others idle:
//! with most slots stuck, the rest of the mail still flows.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use server::queue::{Attempt, Deliverer, Route};

/// Mail for alice hangs until released; mail for bob is accepted at once.
#[derive(Default)]
struct HalfStuck {
    release: tokio::sync::Notify,
    stuck: AtomicUsize,
    fast: AtomicUsize,
}

#[async_trait::async_trait]
impl Deliverer for HalfStuck {
    async fn deliver(&self, _: &Route, _: &str, rcpts: &[&str], _: &[u8]) -> Vec<Attempt> {
        if rcpts.iter().any(|r| r.starts_with("alice")) {
            self.stuck.fetch_add(1, Ordering::SeqCst);
            self.release.notified().await;
        } else {
            self.fast.fetch_add(1, Ordering::SeqCst);
        }
        vec![Attempt::Accepted("250 2.0.0 Ok".into()); rcpts.len()]
    }
}

fn message(rcpt: &str, i: usize) -> Vec<u8> {
    format!(
        "From: x@remote.test\r\nTo: {rcpt}\r\nSubject: {i}\r\nMessage-ID: <slots-{i}@remote.test>\r\n\r\nbody\r\n"
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slots_held_by_a_slow_server_leave_the_rest_flowing() {
    let mut cfg = common::test_config("queue-slots");
    // 4 slots: claims wait for 2 free ones; 3 are held below
    cfg.queue.concurrency = 4;
    cfg.queue.per_destination = 4;
    let primary = Arc::new(HalfStuck::default());
    let r = common::start(&cfg, Some(primary.clone())).await;
    common::demo_domain(&r, "127.0.0.1", 9).await;
    let mut c = common::Client::connect(r.smtp_addrs[0]).await;
    c.cmd("EHLO client.remote.test").await;
    for i in 0..3 {
        let rcpt = "alice@example.test";
        let reply = c.mail("x@remote.test", &[rcpt], &message(rcpt, i)).await;
        assert!(reply.starts_with("250"), "{reply}");
    }
    common::eventually(10, "three slots held", || async {
        primary.stuck.load(Ordering::SeqCst) == 3
    })
    .await;
    for i in 3..13 {
        let rcpt = "bob@example.test";
        let reply = c.mail("x@remote.test", &[rcpt], &message(rcpt, i)).await;
        assert!(reply.starts_with("250"), "{reply}");
    }
    common::eventually(
        10,
        "bob's ten delivered through the one free slot",
        || async { primary.fast.load(Ordering::SeqCst) == 10 },
    )
    .await;
    assert_eq!(primary.stuck.load(Ordering::SeqCst), 3);
    primary.release.notify_waiters();
    r.stop().await;
}
