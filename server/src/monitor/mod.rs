//! Outage detection: one loop that probes every protected domain's primary
//! on its interval (jittered), listens to the delivery queue's temporary
//! failures, drives each domain's [`state::Machine`], and records every
//! transition (compare-and-set on `domains.state`, plus the timeline).
//!
//! - [`state`]: the pure state machine (thresholds, hysteresis, manual
//!   override, drills);
//! - [`probe`]: the SMTP probe (connect, banner, EHLO, MAIL, RCPT, RSET, QUIT);
//! - [`reach`]: where a domain admin may point a primary (public addresses,
//!   mail ports, unless an operator allows more);
//! - [`alerts`]: mail to the administrators' recovery addresses when an
//!   outage starts and ends;
//! - [`webhook`]: the signed JSON POST of every state change, retried.
//!
//! Admin commands (CLI now, Control Panel later) go through [`command`],
//! which applies the same machine to the stored state; the loop notices
//! the change on its next pass.

pub mod alerts;
pub mod probe;
pub mod reach;
pub mod state;
pub mod webhook;

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::config::TlsMode;
use crate::store::continuity::Monitored;
use crate::store::{now_ms, DomainId, Store, StoreError};
use state::{Input, Machine, Mode, Thresholds};

/// How often the loop wakes (probes run on each domain's own interval).
const TICK: Duration = Duration::from_millis(250);

fn machine_of(d: &Monitored) -> Machine {
    Machine::restore(
        Mode::parse(&d.state).unwrap_or(Mode::Normal),
        d.manual_outage,
        d.drill_until,
        Thresholds {
            fail_after: d.fail_after,
            recover_after: d.recover_after,
        },
    )
}

/// Persist a transition the machine produced for `d` (compare-and-set).
async fn record(
    store: &Store,
    hostname: &str,
    d: &Monitored,
    m: &Machine,
    t: &state::Transition,
) -> Result<bool, StoreError> {
    let ok = store
        .transition(
            d.id,
            t.from.as_str(),
            t.to.as_str(),
            &t.reason,
            m.is_manual(),
            m.drill_until(),
        )
        .await?;
    if ok {
        tracing::warn!(domain = %d.name, from = t.from.as_str(), to = t.to.as_str(), reason = %t.reason, "continuity state changed");
        if let Err(e) = alerts::announce(store, hostname, d, t).await {
            tracing::error!(error = %e, domain = %d.name, "cannot queue the outage alert");
        }
        if let Err(e) = webhook::queue(store, d, t).await {
            tracing::error!(error = %e, domain = %d.name, "cannot queue the outage webhook");
        }
        if let Err(e) = crate::notify::event(store, d, t).await {
            tracing::error!(error = %e, domain = %d.name, "cannot record the users' notice event");
        }
    }
    Ok(ok)
}

/// Apply an admin command to a domain now. Returns the new mode, or an
/// error saying why nothing changed.
pub async fn command(
    store: &Store,
    hostname: &str,
    domain: DomainId,
    input: Input,
) -> Result<Mode, StoreError> {
    let d = store
        .monitored_domain(domain)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("domain {domain}")))?;
    let mut m = machine_of(&d);
    let was_manual = m.is_manual();
    match m.feed(input.clone()) {
        Some(t) => {
            if !record(store, hostname, &d, &m, &t).await? {
                return Err(StoreError::Invalid(
                    "the state changed meanwhile; try again".into(),
                ));
            }
            Ok(t.to)
        }
        None if m.is_manual() != was_manual => {
            store.set_manual_outage(domain, m.is_manual()).await?;
            Ok(m.mode)
        }
        None => Err(StoreError::Invalid(format!(
            "nothing to do: the domain is {} ({input:?} does not apply)",
            d.state
        ))),
    }
}

/// Per-domain bookkeeping of the loop.
struct Watch {
    machine: Machine,
    next_probe: i64,
}

pub struct Monitor {
    store: Store,
    hostname: String,
    signals: mpsc::Receiver<(DomainId, String)>,
    /// Whether this node leads the monitor (see [`crate::cluster`]).
    leading: watch::Receiver<bool>,
}

impl Monitor {
    /// The monitor and the sender the queue reports temporary failures to.
    pub fn new(store: Store, hostname: &str) -> (Monitor, mpsc::Sender<(DomainId, String)>) {
        let (tx, rx) = mpsc::channel(1024);
        (
            Monitor {
                store,
                hostname: hostname.to_string(),
                signals: rx,
                leading: crate::cluster::always(),
            },
            tx,
        )
    }

    /// Probe only while this node leads the monitor.
    pub fn led_by(mut self, leading: watch::Receiver<bool>) -> Monitor {
        self.leading = leading;
        self
    }

    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let mut watches: HashMap<DomainId, Watch> = HashMap::new();
        let mut probes = tokio::task::JoinSet::new();
        let mut in_flight: std::collections::HashSet<DomainId> = Default::default();
        // other nodes' queues' failures (see `store/bus.rs`)
        let mut elsewhere = self.store.trouble_events();
        // an interval, not a sleep per pass: a stream of the queue's
        // failures must not keep the probes from being due
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.changed() => break,
                _ = tick.tick() => {}
                Some((domain, why)) = self.signals.recv() => {
                    if *self.leading.borrow() {
                        let input = Input::QueueFailure { why, at_ms: now_ms() };
                        self.feed(&mut watches, domain, input).await;
                    } else {
                        // for the node that leads
                        self.store.report_trouble(domain, &why);
                    }
                    continue;
                }
                Ok((domain, why)) = elsewhere.recv() => {
                    if *self.leading.borrow() {
                        let input = Input::QueueFailure { why, at_ms: now_ms() };
                        self.feed(&mut watches, domain, input).await;
                    }
                    continue;
                }
                Some(done) = probes.join_next(), if !probes.is_empty() => {
                    if let Ok((domain, at_ms, result)) = done {
                        in_flight.remove(&domain);
                        let input = match result {
                            Ok(_) => Input::ProbeOk { at_ms },
                            Err(why) => Input::ProbeFailed { why, at_ms },
                        };
                        self.feed(&mut watches, domain, input).await;
                    }
                    continue;
                }
            }
            if !*self.leading.borrow() {
                // another node probes; what it learns is read afresh when
                // this node leads again
                watches.clear();
                continue;
            }
            let domains = match self.store.monitored_domains().await {
                Ok(d) => d,
                Err(e) => {
                    tracing::error!(error = %e, "monitor cannot read the domains");
                    continue;
                }
            };
            let now = now_ms();
            watches.retain(|id, _| domains.iter().any(|d| d.id == *id));
            for d in &domains {
                let w = watches.entry(d.id).or_insert_with(|| Watch {
                    machine: machine_of(d),
                    next_probe: now,
                });
                // changed elsewhere (CLI, Control Panel, another node)?
                let stored = machine_of(d);
                if stored.mode != w.machine.mode
                    || stored.is_manual() != w.machine.is_manual()
                    || stored.thresholds != w.machine.thresholds
                {
                    w.machine = stored;
                }
                if let Some(t) = w.machine.feed(Input::Tick { now_ms: now }) {
                    let _ = record(&self.store, &self.hostname, d, &w.machine, &t).await;
                }
                if w.machine.mode == Mode::Recovering {
                    match self.store.pending_for_domain(d.id).await {
                        Ok(0) => {
                            if let Some(t) = w.machine.feed(Input::Flushed) {
                                let _ =
                                    record(&self.store, &self.hostname, d, &w.machine, &t).await;
                            }
                        }
                        Ok(_) => {}
                        Err(e) => tracing::error!(error = %e, "monitor cannot count held mail"),
                    }
                }
                if now >= w.next_probe && !in_flight.contains(&d.id) {
                    // ±10 % jitter so probes of many domains spread out
                    let jitter =
                        ((now / 7 + d.id.0 * 31).rem_euclid(97) - 48) * d.probe_interval_ms / 480;
                    w.next_probe = now + d.probe_interval_ms + jitter;
                    in_flight.insert(d.id);
                    let target = probe::ProbeTarget {
                        host: d.primary_host.clone(),
                        port: d.primary_port,
                        tls: d.primary_tls.parse().unwrap_or(TlsMode::Opportunistic),
                        rcpt: d.probe_rcpt.clone(),
                        connect_to: None,
                    };
                    let hello = self.hostname.clone();
                    let timeout = Duration::from_millis(d.probe_timeout_ms.max(500) as u64);
                    let id = d.id;
                    let name = d.name.clone();
                    probes.spawn(async move {
                        let began = std::time::Instant::now();
                        let result = probe::probe(&target, &hello, timeout).await;
                        crate::metrics::probe(&name, result.is_ok(), began.elapsed());
                        (id, now, result)
                    });
                }
            }
        }
        probes.abort_all();
    }

    async fn feed(&self, watches: &mut HashMap<DomainId, Watch>, domain: DomainId, input: Input) {
        let Some(w) = watches.get_mut(&domain) else {
            return;
        };
        if let Input::ProbeFailed { why, .. } | Input::QueueFailure { why, .. } = &input {
            tracing::info!(%domain, reason = %why, "primary check failed");
        }
        let transition = w.machine.feed(input);
        // a result to confirm: probe again as soon as that is due
        if let Some(at) = w.machine.confirm_at() {
            w.next_probe = w.next_probe.min(at);
        }
        if let Some(t) = transition {
            match self.store.monitored_domain(domain).await {
                Ok(Some(d)) => {
                    if !matches!(
                        record(&self.store, &self.hostname, &d, &w.machine, &t).await,
                        Ok(true)
                    ) {
                        // someone else changed it: start again from what is stored
                        w.machine = machine_of(&d);
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::error!(error = %e, "monitor cannot record a transition"),
            }
        }
    }
}
