//! This node's hold on the deliveries it claimed.
//!
//! A claim is the node's for [`CLAIM_LEASE`] after the commit that took or
//! last renewed it; after that any node may take it back (see
//! `store/queue_writes.rs`). So an attempt must not outlive the hold: when
//! the node could not renew in time (it lost the database), its attempts
//! under way are abandoned [`MARGIN`] before another node may start them
//! again — the same message is then never being sent by two nodes at once.
//! The margin covers the commit's own latency and clocks that disagree by
//! a second or two.

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::store::CLAIM_LEASE;

/// How long before the lease's end attempts are abandoned.
pub const MARGIN: Duration = Duration::from_secs(3);

/// Until when this node's claims are surely still its own.
pub struct Hold {
    valid: watch::Sender<Instant>,
}

impl Default for Hold {
    fn default() -> Self {
        Hold::new()
    }
}

impl Hold {
    /// Nothing held yet.
    pub fn new() -> Hold {
        Hold {
            valid: watch::channel(Instant::now()).0,
        }
    }

    /// A claim or renewal asked at `asked` was committed: every claim of
    /// this node now runs until `asked` + [`CLAIM_LEASE`].
    pub fn renewed(&self, asked: Instant) {
        let until = asked + CLAIM_LEASE - MARGIN;
        self.valid.send_if_modified(|v| {
            let later = until > *v;
            if later {
                *v = until;
            }
            later
        });
    }

    /// Resolves when the hold runs out without a renewal.
    pub async fn lost(&self) {
        let mut rx = self.valid.subscribe();
        loop {
            let until = *rx.borrow_and_update();
            if Instant::now() >= until {
                return;
            }
            tokio::select! {
                changed = rx.changed() => {
                    if changed.is_err() {
                        tokio::time::sleep_until(until).await;
                        return;
                    }
                }
                _ = tokio::time::sleep_until(until) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An attempt lives while renewals come, and is told to stop `MARGIN`
    /// before the lease's end when they stop.
    #[tokio::test(start_paused = true)]
    async fn lost_when_renewals_stop_and_not_before() {
        let hold = Hold::new();
        let t0 = Instant::now();
        hold.renewed(t0);
        let step = Duration::from_secs(5);
        let lost = hold.lost();
        tokio::pin!(lost);
        // renewed every 5 s for a minute: never lost
        for i in 1..=12 {
            tokio::select! {
                _ = &mut lost => panic!("lost at renewal {i} though renewals came"),
                _ = tokio::time::sleep(step) => {}
            }
            hold.renewed(Instant::now());
        }
        // renewals stop: lost exactly at the last one + lease - margin
        let last = Instant::now();
        lost.await;
        assert_eq!(Instant::now() - last, CLAIM_LEASE - MARGIN);
        // an older renewal landing late does not move the end back
        hold.renewed(t0);
        let again = Instant::now();
        hold.lost().await;
        assert_eq!(Instant::now(), again);
    }
}
