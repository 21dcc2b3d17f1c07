//! How many deliveries go to one destination at once.
//!
//! Each destination (a primary, the smarthost, an MX host) has a [`Gate`]:
//! up to `[queue] per_destination` deliveries at once, fewer while the
//! destination says it is busy. A temporary failure (a refused or timed
//! out connection, `421`, `451`, `452`...) takes one connection away,
//! never below one; each run of as many accepted messages as the current
//! limit gives one back. A primary just back from an outage is so flushed
//! as fast as it takes its mail, and one that struggles gets fewer
//! connections until it keeps up again (one less per failure, one more
//! per window of successes, as Postfix's destination concurrency does).

use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub struct Gate {
    slots: Arc<Semaphore>,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    limit: usize,
    max: usize,
    /// Accepted since the limit last changed.
    successes: usize,
}

/// What a delivery through the gate met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Met {
    /// The destination answered (accepted, or refused for good).
    Answered,
    /// The destination is busy or away (a temporary failure).
    Busy,
}

/// A delivery's place at the gate, given back when dropped (or through
/// [`Pass::leave`], which also tells the gate how it went).
pub struct Pass {
    gate: Arc<Gate>,
    permit: Option<OwnedSemaphorePermit>,
}

impl Gate {
    pub fn new(max: usize) -> Arc<Gate> {
        let max = max.max(1);
        Arc::new(Gate {
            slots: Arc::new(Semaphore::new(max)),
            state: Mutex::new(State {
                limit: max,
                max,
                successes: 0,
            }),
        })
    }

    /// Wait for a place.
    pub async fn enter(self: &Arc<Self>) -> Pass {
        let permit = self.slots.clone().acquire_owned().await.ok();
        Pass {
            gate: self.clone(),
            permit,
        }
    }

    /// The current limit.
    pub fn limit(&self) -> usize {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).limit
    }
}

impl Pass {
    /// Leave, telling the gate what the delivery met.
    pub fn leave(mut self, met: Met) {
        let mut st = self.gate.state.lock().unwrap_or_else(|p| p.into_inner());
        match met {
            Met::Busy => {
                st.successes = 0;
                if st.limit > 1 {
                    st.limit -= 1;
                    // this place is not given back
                    if let Some(p) = self.permit.take() {
                        p.forget();
                    }
                }
            }
            Met::Answered => {
                st.successes += 1;
                if st.limit < st.max && st.successes >= st.limit {
                    st.limit += 1;
                    st.successes = 0;
                    self.gate.slots.add_permits(1);
                }
            }
        }
    }
}

impl Drop for Pass {
    fn drop(&mut self) {
        // the permit (if still held) goes back by itself
        self.permit.take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_busy_destination_gets_fewer_connections_then_more_again() {
        let g = Gate::new(4);
        assert_eq!(g.limit(), 4);
        for want in [3, 2, 1, 1] {
            g.enter().await.leave(Met::Busy);
            assert_eq!(g.limit(), want);
        }
        // one place only now: a second waits
        let first = g.enter().await;
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(50), g.enter()).await;
        assert!(waiting.is_err(), "one at a time while it is busy");
        first.leave(Met::Answered);
        // that one success at limit 1 made it 2; 2 more → 3; 3 more → 4;
        // never above
        assert_eq!(g.limit(), 2);
        let mut limits = Vec::new();
        for _ in 0..10 {
            g.enter().await.leave(Met::Answered);
            limits.push(g.limit());
        }
        assert_eq!(limits, [2, 3, 3, 3, 4, 4, 4, 4, 4, 4]);
        // and the places really are there: four at once
        let held: Vec<Pass> = futures_util::future::join_all((0..4).map(|_| g.enter())).await;
        assert_eq!(held.len(), 4);
    }
}
