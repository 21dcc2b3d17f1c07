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
//! that. And a run is only believed once a probe *started* at least
//! [`CONFIRM_MS`] after the run's first result agrees with it: a server
//! restarting (refusing for a second), or a burst of the queue's failures
//! in one second, never starts an outage by itself; the monitor probes
//! again as soon as a confirmation is due ([`Machine::confirm_at`]), so an
//! idle domain still enters its outage seconds after the first failure. A manual outage is not ended by probes, only by an admin. A drill
//! shows continuity to users without holding delivery and rolls back by
//! itself; a real failure during a drill becomes a real outage.

use app::backend::Reason;

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
    /// The active probe started at `at_ms` found the primary accepting mail.
    ProbeOk { at_ms: i64 },
    /// The active probe started at `at_ms` failed (refused, timeout, no
    /// banner, 4xx/5xx...).
    ProbeFailed { why: String, at_ms: i64 },
    /// A delivery to the primary failed to connect or got a 4xx (reported
    /// at `at_ms`).
    QueueFailure { why: String, at_ms: i64 },
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

/// How long after a run's first failure (or, in an outage, first success)
/// a probe must start for its agreeing result to count: longer than a
/// server's restart, short enough that an outage starts seconds after the
/// first failure.
pub const CONFIRM_MS: i64 = 2_000;

/// The shortest gap between two confirming probes (when the threshold
/// needs several).
pub const CONFIRM_STEP_MS: i64 = 1_000;

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
    /// When the current run of failures (or successes) began.
    run_since: Option<i64>,
    /// When the last probe of the current run started.
    last_probe_at: Option<i64>,
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
            run_since: None,
            last_probe_at: None,
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
        self.run_since = None;
        self.last_probe_at = None;
        if to != Mode::Drill {
            self.drill_until = None;
        }
        Some(Transition { from, to, reason })
    }

    /// Whether a probe started at `at` confirms the current run (see
    /// [`CONFIRM_MS`]), noting it as the run's last probe.
    fn confirmed_by_probe(&mut self, at: i64) -> bool {
        self.last_probe_at = Some(at);
        self.run_since.is_some_and(|since| at >= since + CONFIRM_MS)
    }

    fn failure(&mut self, what: String, at: i64, probe: bool) -> Option<Transition> {
        if self.failures == 0 {
            self.successes = 0;
            self.run_since = Some(at);
            self.last_probe_at = None;
        }
        self.failures = self.failures.saturating_add(1);
        self.last_failure = Some(what.clone());
        let confirmed = probe && self.confirmed_by_probe(at);
        match self.mode {
            Mode::Normal | Mode::Recovering | Mode::Drill
                if self.failures >= self.thresholds.fail_after && confirmed =>
            {
                self.manual = false;
                let n = self.failures;
                self.go(Mode::Outage, Reason::Failures { n, last: what }.to_string())
            }
            _ => None,
        }
    }

    fn success(&mut self, at: i64) -> Option<Transition> {
        if self.successes == 0 {
            self.failures = 0;
            self.run_since = Some(at);
            self.last_probe_at = None;
        }
        self.successes = self.successes.saturating_add(1);
        let confirmed = self.confirmed_by_probe(at);
        if self.mode == Mode::Outage
            && !self.manual
            && self.successes >= self.thresholds.recover_after
            && confirmed
        {
            let n = self.successes;
            return self.go(Mode::Recovering, Reason::Successes { n }.to_string());
        }
        None
    }

    /// When the monitor should probe again to confirm the current run (a
    /// failure outside an outage, a success inside an automatic one), if
    /// one is due: [`CONFIRM_MS`] after the run began, and at least
    /// [`CONFIRM_STEP_MS`] after the run's last probe.
    pub fn confirm_at(&self) -> Option<i64> {
        let since = self.run_since?;
        let wanted = match self.mode {
            Mode::Normal | Mode::Recovering | Mode::Drill => self.failures > 0,
            Mode::Outage => self.successes > 0 && !self.manual,
        };
        if !wanted {
            return None;
        }
        let after_last = self.last_probe_at.map_or(i64::MIN, |t| t + CONFIRM_STEP_MS);
        Some((since + CONFIRM_MS).max(after_last))
    }

    /// Feed one input; returns the transition it caused, if any.
    pub fn feed(&mut self, input: Input) -> Option<Transition> {
        match input {
            Input::ProbeFailed { why, at_ms } => self.failure(why, at_ms, true),
            Input::QueueFailure { why, at_ms } => self.failure(why, at_ms, false),
            Input::ProbeOk { at_ms } => self.success(at_ms),
            Input::ActivateNow { by } => {
                if self.mode == Mode::Outage {
                    self.manual = true;
                    return None;
                }
                self.manual = true;
                self.go(Mode::Outage, Reason::ActivatedBy(by).to_string())
            }
            Input::End { by } => match self.mode {
                Mode::Outage => {
                    self.manual = false;
                    self.go(Mode::Recovering, Reason::EndedBy(by).to_string())
                }
                Mode::Drill => self.go(Mode::Normal, Reason::DrillEndedBy(by).to_string()),
                _ => None,
            },
            Input::StartDrill { by, until_ms } => {
                if self.mode != Mode::Normal {
                    return None;
                }
                let t = self.go(Mode::Drill, Reason::DrillStartedBy(by).to_string());
                self.drill_until = Some(until_ms);
                t
            }
            Input::Flushed => {
                if self.mode == Mode::Recovering {
                    self.go(Mode::Normal, Reason::HeldMailDelivered.to_string())
                } else {
                    None
                }
            }
            Input::Tick { now_ms } => match (self.mode, self.drill_until) {
                (Mode::Drill, Some(until)) if now_ms >= until => {
                    self.go(Mode::Normal, Reason::DrillOver.to_string())
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
    /// A probe failing at `t` seconds.
    fn fail(t: i64) -> Input {
        Input::ProbeFailed {
            why: "connection refused".into(),
            at_ms: t * 1000,
        }
    }
    /// A probe succeeding at `t` seconds.
    fn ok(t: i64) -> Input {
        Input::ProbeOk { at_ms: t * 1000 }
    }

    #[test]
    fn an_outage_needs_n_failures_in_a_row_and_recovery_m_successes() {
        let mut s = m();
        assert_eq!(s.feed(fail(0)), None);
        assert_eq!(s.feed(ok(2)), None, "a success resets the count");
        assert_eq!(s.feed(fail(4)), None);
        let t = s.feed(fail(6)).expect("outage");
        assert_eq!((t.from, t.to), (Mode::Normal, Mode::Outage));
        assert!(t.reason.contains("2 consecutive failures"), "{}", t.reason);
        assert!(s.holds_delivery() && s.visible_to_users());
        assert_eq!(s.feed(ok(8)), None);
        assert_eq!(s.feed(fail(10)), None, "a failure resets the successes");
        assert_eq!(s.feed(ok(12)), None);
        let t = s.feed(ok(14)).expect("recovering");
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
            let input = if i % 2 == 0 { fail(i) } else { ok(i) };
            transitions += s.feed(input).is_some() as u32;
        }
        assert_eq!(transitions, 0, "alternating never reaches a threshold");
        assert_eq!(s.mode, Mode::Normal);
    }

    #[test]
    fn recovery_that_fails_again_goes_back_to_outage_after_n_failures() {
        let mut s = Machine::new(Mode::Outage, Thresholds::default());
        s.feed(ok(0));
        s.feed(ok(2));
        assert_eq!(s.mode, Mode::Recovering);
        assert_eq!(s.feed(fail(3)), None);
        assert_eq!(s.feed(fail(5)).map(|t| t.to), Some(Mode::Outage));
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
        for i in 0..10 {
            assert_eq!(s.feed(ok(i * 2)), None);
        }
        assert_eq!(s.confirm_at(), None, "nothing to confirm");
        assert_eq!(s.mode, Mode::Outage);
        let t = s
            .feed(Input::End {
                by: "ops@msp.test".into(),
            })
            .expect("end");
        assert_eq!(t.to, Mode::Recovering);
        // restored after a restart, it is still manual
        let mut r = Machine::restore(Mode::Outage, true, None, Thresholds::default());
        assert_eq!(r.feed(ok(0)), None);
        assert_eq!(r.feed(ok(2)), None);
        // an automatic outage made manual stays until an admin ends it
        let mut a = m();
        a.feed(fail(0));
        a.feed(fail(2));
        assert_eq!(a.mode, Mode::Outage);
        assert_eq!(a.feed(Input::ActivateNow { by: "x".into() }), None);
        a.feed(ok(4));
        assert_eq!(a.feed(ok(6)), None);
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
        s.feed(fail(1));
        assert_eq!(s.feed(fail(3)).map(|t| t.to), Some(Mode::Outage));
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
    fn failures_within_the_confirmation_time_start_no_outage() {
        let mut s = m();
        // a restart: the queue's deliveries refused in one second, and a
        // probe in that second too
        for ms in [0, 100, 250, 700] {
            let why = "connection refused".to_string();
            assert_eq!(s.feed(Input::QueueFailure { why, at_ms: ms }), None);
        }
        let why = "connection refused".to_string();
        assert_eq!(s.feed(Input::ProbeFailed { why, at_ms: 900 }), None);
        assert_eq!(s.confirm_at(), Some(CONFIRM_MS), "a probe is due");
        // the server is back when the confirming probe runs
        assert_eq!(s.feed(Input::ProbeOk { at_ms: CONFIRM_MS }), None);
        assert_eq!(s.mode, Mode::Normal);
        assert_eq!(s.confirm_at(), None);
    }

    #[test]
    fn the_queue_alone_never_starts_an_outage_but_asks_for_a_probe() {
        let mut s = m();
        for i in 0..50 {
            let why = "421 4.3.2 shutting down".to_string();
            assert_eq!(
                s.feed(Input::QueueFailure {
                    why,
                    at_ms: i * 100
                }),
                None
            );
        }
        assert_eq!(s.confirm_at(), Some(CONFIRM_MS));
        let t = s.feed(fail(2)).expect("confirmed by a probe");
        assert_eq!(t.to, Mode::Outage);
        assert!(t.reason.contains("51 consecutive failures"), "{}", t.reason);
    }

    #[test]
    fn confirming_probes_are_spaced_and_a_recovery_is_confirmed_too() {
        let mut s = Machine::new(
            Mode::Normal,
            Thresholds {
                fail_after: 4,
                recover_after: 2,
            },
        );
        assert_eq!(s.feed(fail(10)), None);
        assert_eq!(s.confirm_at(), Some(12_000));
        assert_eq!(s.feed(fail(12)), None);
        assert_eq!(s.confirm_at(), Some(13_000), "one step after the last");
        assert_eq!(s.feed(fail(13)), None);
        assert_eq!(s.feed(fail(14)).map(|t| t.to), Some(Mode::Outage));
        assert_eq!(
            s.confirm_at(),
            None,
            "the outage stands: nothing to confirm"
        );
        // one success in the outage: confirmed two seconds later
        assert_eq!(s.feed(ok(20)), None);
        assert_eq!(s.confirm_at(), Some(22_000));
        assert_eq!(s.feed(ok(21)), None, "too soon to believe it");
        assert_eq!(s.feed(ok(22)).map(|t| t.to), Some(Mode::Recovering));
    }

    #[test]
    fn modes_round_trip_through_their_names() {
        for mode in [Mode::Normal, Mode::Outage, Mode::Recovering, Mode::Drill] {
            assert_eq!(Mode::parse(mode.as_str()), Some(mode));
        }
        assert_eq!(Mode::parse("down"), None);
    }
}
