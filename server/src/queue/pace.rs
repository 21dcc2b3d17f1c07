//! A primary back from an outage gets its held backlog at a measured rate
//! (`[queue] recovery_rate` messages a second, shared by the nodes alive),
//! not all at once.

/// This node's part of a recovery rate that `nodes` nodes share (never
/// below one message a second; 0 stays 0: no pacing).
pub fn share(rate: u32, nodes: u32) -> u32 {
    if rate == 0 {
        return 0;
    }
    (rate / nodes.max(1)).max(1)
}

/// Pace deliveries to `rate` per second: given the next free slot and the
/// time now (µs), how long to wait before sending (µs); advances the slot.
pub fn pace(next: &mut i64, now_us: i64, rate: u32) -> i64 {
    let step = 1_000_000 / i64::from(rate.max(1));
    let slot = (*next).max(now_us);
    *next = slot + step;
    slot - now_us
}

#[cfg(test)]
mod tests {
    use super::{pace, share};

    #[test]
    fn recovery_is_paced_to_the_configured_rate() {
        let mut next = 0;
        let t0 = 1_000_000_000;
        // 20 per second: one every 50 ms, the first at once
        let waits: Vec<i64> = (0..5).map(|_| pace(&mut next, t0, 20)).collect();
        assert_eq!(waits, [0, 50_000, 100_000, 150_000, 200_000]);
        // after a quiet spell, no debt is carried over
        assert_eq!(pace(&mut next, t0 + 10_000_000, 20), 0);
        // a rate of 1,000 per second is one message per millisecond
        let mut n = 0;
        assert_eq!(pace(&mut n, 5, 1_000), 0);
        assert_eq!(pace(&mut n, 5, 1_000), 1_000);
    }

    /// Two nodes flushing one primary each take half of the recovery rate:
    /// together they send it no faster than one node would.
    #[test]
    fn nodes_alive_share_the_recovery_rate() {
        assert_eq!(share(20, 1), 20);
        assert_eq!(share(20, 2), 10);
        assert_eq!(share(20, 0), 20, "at least this node");
        assert_eq!(share(3, 8), 1, "never stalls");
        assert_eq!(share(0, 2), 0, "no pacing stays no pacing");
    }
}
