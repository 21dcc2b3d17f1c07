//! The per-domain continuity state machine. Pure: it is fed probe results,
//! queue signals, admin commands and the clock, and answers with the
//! transition to record (if any). No I/O, no clock of its own.
//!
//! ```text
//!            N consecutive failures              M consecutive successes
//!  normal ───────────────────────────▶ outage ───────────────────────────▶ recovering
//!    ▲  ▲                               ▲  ▲                                 │   │
//!    │  └──── drill ends (time/admin)   │  └──── N consecutive failures ─────┘   │
//!    │       drill ◀── admin            │                                        │
//!    │                                  └── admin "activate now" (held until     │
//!    └──────────────── held mail flushed ◀──── admin "end")                      ┘
//! ```
//!
//! Hysteresis: entering an outage needs N failures in a row, leaving it M
//! successes in a row, and a recovery that fails again needs N failures
//! again; a server that alternates never makes the state flap faster than
//! that. A manual outage is not ended by probes, only by an admin. A drill
//! shows continuity to users without holding delivery and rolls back by
//! itself; a real failure during a drill becomes a real outage.

/// A domain's continuity mode (stored as `domains.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Normal,
    Outage,
    Recovering,
    Drill,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Normal => "normal",
            Mode::Outage => "outage",
            Mode::Recovering => "recovering",
            Mode::Drill => "drill",
        }
    }
    pub fn parse(s: &str) -> Option<Mode> {
        Some(match s {
            "normal" => Mode::Normal,
            "outage" => Mode::Outage,
            "recovering" => Mode::Recovering,
            "drill" => Mode::Drill,
            _ => return None,
        })
    }
}

/// What the machine is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The active probe found the primary accepting mail.
    ProbeOk,
    /// The active probe failed (refused, timeout, no banner, 4xx/5xx...).
    ProbeFailed(String),
    /// A delivery to the primary failed to connect or got a 4xx.
    QueueFailure(String),
    /// An admin starts continuity by hand (maintenance, invisible failure).
    ActivateNow { by: String },
    /// An admin ends continuity (manual or automatic outage, or a drill).
    End { by: String },
    /// An admin starts a drill until `until_ms`.
    StartDrill { by: String, until_ms: i64 },
    /// The held mail has all been handed to the primary.
    Flushed,
    /// Time passes (drills end by themselves).
    Tick { now_ms: i64 },
}

/// A change of mode, with why (for the timeline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub from: Mode,
    pub to: Mode,
    pub reason: String,
}

/// Thresholds (from the domain's monitoring settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// Consecutive failures that start an outage.
    pub fail_after: u32,
    /// Consecutive successes that end it.
    pub recover_after: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            fail_after: 2,
            recover_after: 2,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    pub mode: Mode,
    pub thresholds: Thresholds,
    failures: u32,
    successes: u32,
    /// The outage was started by an admin: probes do not end it.
    manual: bool,
    drill_until: Option<i64>,
    last_failure: Option<String>,
}

impl Machine {
    pub fn new(mode: Mode, thresholds: Thresholds) -> Machine {
        Machine {
            mode,
            thresholds,
            failures: 0,
            successes: 0,
            manual: false,
            drill_until: None,
            last_failure: None,
        }
    }

    /// Restore a machine from its stored mode (a manual outage stays manual).
    pub fn restore(mode: Mode, manual: bool, drill_until: Option<i64>, t: Thresholds) -> Machine {
        Machine {
            manual,
            drill_until,
            ..Machine::new(mode, t)
        }
    }

    pub fn is_manual(&self) -> bool {
        self.manual
    }

    pub fn drill_until(&self) -> Option<i64> {
        self.drill_until
    }

    fn go(&mut self, to: Mode, reason: String) -> Option<Transition> {
        let from = self.mode;
        self.mode = to;
        self.failures = 0;
        self.successes = 0;
        if to != Mode::Drill {
            self.drill_until = None;
        }
        Some(Transition { from, to, reason })
    }

    fn failure(&mut self, what: String) -> Option<Transition> {
        self.successes = 0;
        self.failures = self.failures.saturating_add(1);
        self.last_failure = Some(what.clone());
        match self.mode {
            Mode::Normal | Mode::Recovering | Mode::Drill
                if self.failures >= self.thresholds.fail_after =>
            {
                self.manual = false;
                let n = self.failures;
                self.go(
                    Mode::Outage,
                    format!("{n} consecutive failures; last: {what}"),
                )
            }
            _ => None,
        }
    }

    /// Feed one input; returns the transition it caused, if any.
    pub fn feed(&mut self, input: Input) -> Option<Transition> {
        match input {
            Input::ProbeFailed(what) | Input::QueueFailure(what) => self.failure(what),
            Input::ProbeOk => {
                self.failures = 0;
                self.successes = self.successes.saturating_add(1);
                if self.mode == Mode::Outage
                    && !self.manual
                    && self.successes >= self.thresholds.recover_after
                {
                    let n = self.successes;
                    return self.go(
                        Mode::Recovering,
                        format!("{n} consecutive successful probes"),
                    );
                }
                None
            }
            Input::ActivateNow { by } => {
                if self.mode == Mode::Outage {
                    self.manual = true;
                    return None;
                }
                self.manual = true;
                self.go(Mode::Outage, format!("activated by {by}"))
            }
            Input::End { by } => match self.mode {
                Mode::Outage => {
                    self.manual = false;
                    self.go(Mode::Recovering, format!("ended by {by}"))
                }
                Mode::Drill => self.go(Mode::Normal, format!("drill ended by {by}")),
                _ => None,
            },
            Input::StartDrill { by, until_ms } => {
                if self.mode != Mode::Normal {
                    return None;
                }
                let t = self.go(Mode::Drill, format!("drill started by {by}"));
                self.drill_until = Some(until_ms);
                t
            }
            Input::Flushed => {
                if self.mode == Mode::Recovering {
                    self.go(Mode::Normal, "held mail delivered".into())
                } else {
                    None
                }
            }
            Input::Tick { now_ms } => match (self.mode, self.drill_until) {
                (Mode::Drill, Some(until)) if now_ms >= until => {
                    self.go(Mode::Normal, "drill time is over".into())
                }
                _ => None,
            },
        }
    }

    /// Is delivery to the primary held in this mode?
    pub fn holds_delivery(&self) -> bool {
        self.mode == Mode::Outage
    }

    /// Do users see continuity (banner, mark) in this mode?
    pub fn visible_to_users(&self) -> bool {
        matches!(self.mode, Mode::Outage | Mode::Drill)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m() -> Machine {
        Machine::new(Mode::Normal, Thresholds::default())
    }
    fn fail() -> Input {
        Input::ProbeFailed("connection refused".into())
    }

    #[test]
    fn an_outage_needs_n_failures_in_a_row_and_recovery_m_successes() {
        let mut s = m();
        assert_eq!(s.feed(fail()), None);
        assert_eq!(s.feed(Input::ProbeOk), None, "a success resets the count");
        assert_eq!(s.feed(fail()), None);
        let t = s
            .feed(Input::QueueFailure("452 4.3.1 disk full".into()))
            .expect("outage");
        assert_eq!((t.from, t.to), (Mode::Normal, Mode::Outage));
        assert!(t.reason.contains("452 4.3.1"), "{}", t.reason);
        assert!(s.holds_delivery() && s.visible_to_users());
        assert_eq!(s.feed(Input::ProbeOk), None);
        assert_eq!(s.feed(fail()), None, "a failure resets the successes");
        assert_eq!(s.feed(Input::ProbeOk), None);
        let t = s.feed(Input::ProbeOk).expect("recovering");
        assert_eq!(t.to, Mode::Recovering);
        assert!(!s.holds_delivery() && !s.visible_to_users());
        assert_eq!(s.feed(Input::Flushed).map(|t| t.to), Some(Mode::Normal));
    }

    #[test]
    fn a_flapping_server_changes_state_at_most_once_per_threshold() {
        let mut s = Machine::new(
            Mode::Normal,
            Thresholds {
                fail_after: 3,
                recover_after: 3,
            },
        );
        let mut transitions = 0;
        for i in 0..100 {
            let input = if i % 2 == 0 { fail() } else { Input::ProbeOk };
            transitions += s.feed(input).is_some() as u32;
        }
        assert_eq!(transitions, 0, "alternating never reaches a threshold");
        assert_eq!(s.mode, Mode::Normal);
    }

    #[test]
    fn recovery_that_fails_again_goes_back_to_outage_after_n_failures() {
        let mut s = Machine::new(Mode::Outage, Thresholds::default());
        s.feed(Input::ProbeOk);
        s.feed(Input::ProbeOk);
        assert_eq!(s.mode, Mode::Recovering);
        assert_eq!(s.feed(fail()), None);
        assert_eq!(s.feed(fail()).map(|t| t.to), Some(Mode::Outage));
    }

    #[test]
    fn a_manual_outage_is_ended_by_an_admin_only() {
        let mut s = m();
        let t = s
            .feed(Input::ActivateNow {
                by: "ops@msp.test".into(),
            })
            .expect("outage");
        assert_eq!(t.to, Mode::Outage);
        assert!(t.reason.contains("ops@msp.test"));
        for _ in 0..10 {
            assert_eq!(s.feed(Input::ProbeOk), None);
        }
        assert_eq!(s.mode, Mode::Outage);
        let t = s
            .feed(Input::End {
                by: "ops@msp.test".into(),
            })
            .expect("end");
        assert_eq!(t.to, Mode::Recovering);
        // restored after a restart, it is still manual
        let mut r = Machine::restore(Mode::Outage, true, None, Thresholds::default());
        assert_eq!(r.feed(Input::ProbeOk), None);
        assert_eq!(r.feed(Input::ProbeOk), None);
        // an automatic outage made manual stays until an admin ends it
        let mut a = m();
        a.feed(fail());
        a.feed(fail());
        assert_eq!(a.feed(Input::ActivateNow { by: "x".into() }), None);
        a.feed(Input::ProbeOk);
        assert_eq!(a.feed(Input::ProbeOk), None);
    }

    #[test]
    fn a_drill_rolls_back_by_itself_and_never_holds_delivery() {
        let mut s = m();
        let t = s
            .feed(Input::StartDrill {
                by: "admin".into(),
                until_ms: 1_000,
            })
            .expect("drill");
        assert_eq!(t.to, Mode::Drill);
        assert!(s.visible_to_users() && !s.holds_delivery());
        assert_eq!(s.feed(Input::Tick { now_ms: 999 }), None);
        assert_eq!(
            s.feed(Input::Tick { now_ms: 1_000 }).map(|t| t.to),
            Some(Mode::Normal)
        );
        // an admin can end it early
        s.feed(Input::StartDrill {
            by: "admin".into(),
            until_ms: 5_000,
        });
        assert_eq!(
            s.feed(Input::End { by: "admin".into() }).map(|t| t.to),
            Some(Mode::Normal)
        );
        // a real failure during a drill is a real outage
        s.feed(Input::StartDrill {
            by: "admin".into(),
            until_ms: 5_000,
        });
        s.feed(fail());
        assert_eq!(s.feed(fail()).map(|t| t.to), Some(Mode::Outage));
        assert_eq!(
            s.feed(Input::Tick { now_ms: 9_000 }),
            None,
            "no drill rollback now"
        );
        // no drill during an outage
        assert_eq!(
            s.feed(Input::StartDrill {
                by: "admin".into(),
                until_ms: 99_000
            }),
            None
        );
    }

    #[test]
    fn modes_round_trip_through_their_names() {
        for mode in [Mode::Normal, Mode::Outage, Mode::Recovering, Mode::Drill] {
            assert_eq!(Mode::parse(mode.as_str()), Some(mode));
        }
        assert_eq!(Mode::parse("down"), None);
    }
}
