//! Prometheus metrics: what this node counts as it works (counters and
//! histograms, kept in the process from its start), and what the database
//! says at each scrape (the queue, held mail, domains' states: see
//! [`scrape`]). Served in the Prometheus text format on `[metrics] listen`
//! only, never on the web port (see [`serve`]).
//!
//! Names follow Prometheus' conventions (`continuity_…_total` for
//! counters, base units: `_seconds`, `_bytes`). Labels take bounded values
//! only: listeners, outcomes, RFC 3463 status codes, and domain names
//! (bounded by configuration); never an address.

mod process;
mod scrape;
mod serve;

use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

pub use scrape::Sources;
pub use serve::serve;

/// An SMTP listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Listener {
    /// Inbound mail (port 25).
    Mx,
    /// Mail apps and relaying servers (587, 465).
    Submission,
}

/// What became of one delivery attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Delivery {
    Delivered,
    Deferred,
    Bounced,
    Expired,
}

pub use crate::auth::Channel as Service;

impl EncodeLabelValue for Listener {
    fn encode(&self, e: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        std::fmt::Write::write_str(
            e,
            match self {
                Listener::Mx => "mx",
                Listener::Submission => "submission",
            },
        )
    }
}

impl EncodeLabelValue for Service {
    fn encode(&self, e: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        std::fmt::Write::write_str(e, self.name())
    }
}

impl EncodeLabelValue for Delivery {
    fn encode(&self, e: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        std::fmt::Write::write_str(
            e,
            match self {
                Delivery::Delivered => "delivered",
                Delivery::Deferred => "deferred",
                Delivery::Bounced => "bounced",
                Delivery::Expired => "expired",
            },
        )
    }
}

/// An enhanced status code (RFC 3463) as a label: "5.1.1".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Status(pub [u8; 3]);

impl EncodeLabelValue for Status {
    fn encode(&self, e: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        let [a, b, c] = self.0;
        std::fmt::Write::write_fmt(e, format_args!("{a}.{b}.{c}"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ListenerLabel {
    listener: Listener,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RefusalLabels {
    listener: Listener,
    status: Status,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: Delivery,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ProbeLabels {
    domain: String,
    result: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct DomainLabel {
    domain: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ServiceLabel {
    service: Service,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

/// Everything this process counts, registered once.
pub(crate) struct Metrics {
    /// `continuity_…`
    pub(crate) registry: Registry,
    /// `process_…`, unprefixed as every client library names them.
    pub(crate) process: Registry,
    smtp_sessions: Family<ListenerLabel, Counter>,
    smtp_open: Family<ListenerLabel, Gauge>,
    smtp_accepted: Family<ListenerLabel, Counter>,
    smtp_refusals: Family<RefusalLabels, Counter>,
    ingest_commit: Histogram,
    deliveries: Family<OutcomeLabel, Counter>,
    delivery_attempt: Histogram,
    delivery_latency: Histogram,
    probes: Family<ProbeLabels, Counter>,
    probe_seconds: Family<DomainLabel, Histogram>,
    imap_sessions: Counter,
    imap_open: Gauge,
    login_failures: Family<ServiceLabel, Counter>,
    logins_throttled: Family<ServiceLabel, Counter>,
    directory_syncs: Family<ResultLabel, Counter>,
    purged: Counter,
    webhooks: Family<ResultLabel, Counter>,
    pub(crate) gauges: scrape::Gauges,
}

fn probe_histogram() -> Histogram {
    // 5 ms to 10 s
    Histogram::new(exponential_buckets(0.005, 2.0, 12))
}

pub(crate) static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let mut r = Registry::with_prefix("continuity");
    let smtp_sessions = Family::default();
    r.register(
        "smtp_sessions",
        "SMTP connections accepted, by listener",
        smtp_sessions.clone(),
    );
    let smtp_open = Family::default();
    r.register(
        "smtp_sessions_open",
        "SMTP connections open now, by listener",
        smtp_open.clone(),
    );
    let smtp_accepted = Family::default();
    r.register(
        "smtp_messages_accepted",
        "Messages answered 250 after DATA (stored durably), by listener",
        smtp_accepted.clone(),
    );
    let smtp_refusals = Family::default();
    r.register(
        "smtp_refusals",
        "Negative SMTP replies, by listener and RFC 3463 status (5.1.1 unknown recipient, \
         5.7.1 relay denied or sender refused, 4.3.0 store unavailable, 5.3.4 too large, \
         4.5.3 too many recipients, 4.7.0 throttled or timed out, 5.5.x protocol)",
        smtp_refusals.clone(),
    );
    // 0.5 ms to 4 s
    let ingest_commit = Histogram::new(exponential_buckets(0.0005, 2.0, 14));
    r.register_with_unit(
        "ingest_commit",
        "Time from a message's end of DATA to its durable commit (what the sender waits for)",
        Unit::Seconds,
        ingest_commit.clone(),
    );
    let deliveries = Family::default();
    r.register(
        "deliveries",
        "Delivery attempts' outcomes, per recipient",
        deliveries.clone(),
    );
    // 10 ms to 20 s
    let delivery_attempt = Histogram::new(exponential_buckets(0.01, 2.0, 12));
    r.register_with_unit(
        "delivery_attempt",
        "Duration of one delivery attempt (connection to last reply)",
        Unit::Seconds,
        delivery_attempt.clone(),
    );
    // 0.1 s to 7 h
    let delivery_latency = Histogram::new(exponential_buckets(0.1, 4.0, 10));
    r.register_with_unit(
        "delivery_latency",
        "Time from a message's acceptance to its delivery (held mail included)",
        Unit::Seconds,
        delivery_latency.clone(),
    );
    let probes = Family::default();
    r.register(
        "probes",
        "Checks of a domain's primary server, by result (ok, failed)",
        probes.clone(),
    );
    let probe_seconds = Family::new_with_constructor(probe_histogram as fn() -> Histogram);
    r.register_with_unit(
        "probe_duration",
        "Duration of a check of a domain's primary server",
        Unit::Seconds,
        probe_seconds.clone(),
    );
    let imap_sessions = Counter::default();
    r.register(
        "imap_sessions",
        "IMAP connections accepted",
        imap_sessions.clone(),
    );
    let imap_open = Gauge::default();
    r.register(
        "imap_sessions_open",
        "IMAP connections open now",
        imap_open.clone(),
    );
    let login_failures = Family::default();
    r.register(
        "login_failures",
        "Wrong passwords, by service (web, imap, submission, relay, password_change)",
        login_failures.clone(),
    );
    let logins_throttled = Family::default();
    r.register(
        "logins_throttled",
        "Logins refused before any password check (too many failures), by service",
        logins_throttled.clone(),
    );
    let directory_syncs = Family::default();
    r.register(
        "directory_syncs",
        "Directory synchronisations run, by result (ok, failed)",
        directory_syncs.clone(),
    );
    let purged = Counter::default();
    r.register(
        "retention_purged_messages",
        "Messages removed from the archive past their domain's retention",
        purged.clone(),
    );
    let webhooks = Family::default();
    r.register(
        "webhook_deliveries",
        "Outage webhook requests, by result (delivered, failed)",
        webhooks.clone(),
    );
    // every series there can be, from the start: a rate() sees its first
    // increase, and an alert its zero
    for listener in [Listener::Mx, Listener::Submission] {
        let l = ListenerLabel { listener };
        let _ = smtp_sessions.get_or_create(&l);
        let _ = smtp_open.get_or_create(&l);
        let _ = smtp_accepted.get_or_create(&l);
    }
    for outcome in [
        Delivery::Delivered,
        Delivery::Deferred,
        Delivery::Bounced,
        Delivery::Expired,
    ] {
        let _ = deliveries.get_or_create(&OutcomeLabel { outcome });
    }
    for service in Service::ALL {
        let _ = login_failures.get_or_create(&ServiceLabel { service });
        let _ = logins_throttled.get_or_create(&ServiceLabel { service });
    }
    for result in ["ok", "failed"] {
        let _ = directory_syncs.get_or_create(&ResultLabel { result });
    }
    for result in ["delivered", "failed"] {
        let _ = webhooks.get_or_create(&ResultLabel { result });
    }
    let gauges = scrape::Gauges::register(&mut r);
    let mut process = Registry::default();
    process.register_collector(Box::new(process::Process));
    Metrics {
        registry: r,
        process,
        smtp_sessions,
        smtp_open,
        smtp_accepted,
        smtp_refusals,
        ingest_commit,
        deliveries,
        delivery_attempt,
        delivery_latency,
        probes,
        probe_seconds,
        imap_sessions,
        imap_open,
        login_failures,
        logins_throttled,
        directory_syncs,
        purged,
        webhooks,
        gauges,
    }
});

/// An open SMTP connection, counted until dropped.
pub struct SmtpSession(Listener);

pub fn smtp_session(listener: Listener) -> SmtpSession {
    let l = ListenerLabel { listener };
    METRICS.smtp_sessions.get_or_create(&l).inc();
    METRICS.smtp_open.get_or_create(&l).inc();
    SmtpSession(listener)
}

impl Drop for SmtpSession {
    fn drop(&mut self) {
        METRICS
            .smtp_open
            .get_or_create(&ListenerLabel { listener: self.0 })
            .dec();
    }
}

/// A reply written to an SMTP client: refusals are counted.
pub fn smtp_reply(listener: Listener, code: u16, enhanced: Option<[u8; 3]>) {
    if code < 400 {
        return;
    }
    let class = if code < 500 { 4 } else { 5 };
    let status = Status(enhanced.unwrap_or([class, 0, 0]));
    METRICS
        .smtp_refusals
        .get_or_create(&RefusalLabels { listener, status })
        .inc();
}

/// A message answered 250 after DATA.
pub fn smtp_accepted(listener: Listener) {
    METRICS
        .smtp_accepted
        .get_or_create(&ListenerLabel { listener })
        .inc();
}

/// A message's commit took `took`.
pub fn ingest_committed(took: Duration) {
    METRICS.ingest_commit.observe(took.as_secs_f64());
}

/// One recipient's attempt ended so; `latency` (since acceptance) when
/// delivered.
pub fn delivery(outcome: Delivery, attempt: Duration, latency: Option<Duration>) {
    METRICS
        .deliveries
        .get_or_create(&OutcomeLabel { outcome })
        .inc();
    METRICS.delivery_attempt.observe(attempt.as_secs_f64());
    if let Some(l) = latency {
        METRICS.delivery_latency.observe(l.as_secs_f64());
    }
}

/// A check of `domain`'s primary.
pub fn probe(domain: &str, ok: bool, took: Duration) {
    METRICS
        .probes
        .get_or_create(&ProbeLabels {
            domain: domain.to_string(),
            result: if ok { "ok" } else { "failed" },
        })
        .inc();
    METRICS
        .probe_seconds
        .get_or_create(&DomainLabel {
            domain: domain.to_string(),
        })
        .observe(took.as_secs_f64());
}

/// An open IMAP connection, counted until dropped.
pub struct ImapSession(());

pub fn imap_session() -> ImapSession {
    METRICS.imap_sessions.inc();
    METRICS.imap_open.inc();
    ImapSession(())
}

impl Drop for ImapSession {
    fn drop(&mut self) {
        METRICS.imap_open.dec();
    }
}

pub fn login_failed(service: Service) {
    METRICS
        .login_failures
        .get_or_create(&ServiceLabel { service })
        .inc();
}

pub fn login_throttled(service: Service) {
    METRICS
        .logins_throttled
        .get_or_create(&ServiceLabel { service })
        .inc();
}

pub fn directory_sync(ok: bool) {
    METRICS
        .directory_syncs
        .get_or_create(&ResultLabel {
            result: if ok { "ok" } else { "failed" },
        })
        .inc();
}

pub fn purged(messages: u64) {
    METRICS.purged.inc_by(messages);
}

pub fn webhook(delivered: bool) {
    METRICS
        .webhooks
        .get_or_create(&ResultLabel {
            result: if delivered { "delivered" } else { "failed" },
        })
        .inc();
}
