//! Users told that their domain's continuity started, and that it ended —
//! where they can be reached while their mailbox cannot: an alternate
//! address (mail through the normal outbound path, never to an address
//! behind the failing primary) and a mobile (SMS through the operator's
//! gateway), in their language, with the webmail's address and no secret.
//!
//! - A state change writes an *event* ([`event`], from the monitor); a
//!   notifier on any node takes it (a lease in the database) and records
//!   one notice per covered user and verified channel — once per event:
//!   the notice's row is unique, so a node taking over a half-done event
//!   adds only what is missing.
//! - Never a storm: a user told the same thing on the same channel within
//!   the quiet period is not told again (recorded as skipped), and SMS
//!   stop at the per-domain cap of an event (skipped too; the Control
//!   Panel sends them again on request).
//! - Mail is queued like any message (tracked, retried); SMS wait in the
//!   notices table for the sender, retried for an hour (a late SMS about
//!   an outage helps nobody).
//! - [`contacts`]: users' own contact points and their proofs.

pub mod contacts;
pub mod sms;
pub mod texts;

use std::sync::Arc;
use std::time::Duration;

use app::i18n::Lang;
use mail_builder::headers::raw::Raw;
use mail_builder::MessageBuilder;
use tokio::sync::watch;

use crate::directory::{RcptVerdict, RecipientPolicy};
use crate::monitor::state::{Mode, Transition};
use crate::store::contacts::Channel;
use crate::store::continuity::Monitored;
use crate::store::notices::{NewNotice, NoticeEvent, NoticeKind, NoticeRow, NoticeStatus};
use crate::store::{
    now_ms, DomainId, NewMessage, NewRecipient, Origin, Store, StoreError, Summary,
};

/// How long a node holds an event it is telling before another takes it.
const EVENT_LEASE_MS: i64 = 60_000;
/// Waits between an SMS's attempts; given up after [`SMS_GIVE_UP_MS`].
const SMS_BACKOFF_MS: [i64; 4] = [10_000, 30_000, 120_000, 300_000];
const SMS_GIVE_UP_MS: i64 = 3_600_000;

/// The event a transition is, if users are told of it.
pub fn kind_of(t: &Transition) -> Option<(NoticeKind, bool)> {
    match (t.from, t.to) {
        (_, Mode::Outage) => Some((NoticeKind::Start, false)),
        (Mode::Recovering, Mode::Normal) => Some((NoticeKind::End, false)),
        (_, Mode::Drill) => Some((NoticeKind::Start, true)),
        (Mode::Drill, Mode::Normal) => Some((NoticeKind::End, true)),
        _ => None,
    }
}

/// Write the event of a transition (the monitor, right after recording it).
pub async fn event(store: &Store, d: &Monitored, t: &Transition) -> Result<(), StoreError> {
    if let Some((kind, drill)) = kind_of(t) {
        store
            .insert_notice_event(d.id, kind, drill, now_ms())
            .await?;
    }
    Ok(())
}

/// A language code as stored ('fr', 'en'); English when unknown.
fn lang_of(code: Option<&str>) -> Lang {
    code.and_then(Lang::from_code).unwrap_or_default()
}

/// Tells users: fans events out to notices, sends the SMS.
pub struct Notifier {
    store: Store,
    hostname: String,
    /// The webmail's login page, as users are told it.
    webmail: String,
    quiet: Duration,
    sms: Option<Arc<sms::Gateway>>,
}

impl Notifier {
    pub fn new(
        store: Store,
        hostname: &str,
        public_url: &str,
        quiet: Duration,
        sms: Option<Arc<sms::Gateway>>,
    ) -> Notifier {
        Notifier {
            store,
            hostname: hostname.to_string(),
            webmail: format!("{}/login", public_url.trim_end_matches('/')),
            quiet,
            sms,
        }
    }

    /// The SMS gateway, if one is configured.
    pub fn gateway(&self) -> Option<&sms::Gateway> {
        self.sms.as_deref()
    }

    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            if let Err(e) = self.work().await {
                tracing::error!(error = %e, "user notifications: cannot read the store");
            }
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    /// Tell every event waiting, then send the SMS due.
    pub async fn work(&self) -> Result<(), StoreError> {
        while let Some(ev) = self.store.take_notice_event(EVENT_LEASE_MS).await? {
            self.fan_out(&ev).await?;
            self.store.notice_event_done(ev.id).await?;
        }
        for n in self.store.due_notices(now_ms(), 50).await? {
            if self.store.claim_notice(n.id, n.attempts, 60_000).await? {
                self.send_sms(&n).await?;
            }
        }
        Ok(())
    }

    async fn fan_out(&self, ev: &NoticeEvent) -> Result<(), StoreError> {
        let Some(d) = self.store.monitored_domain(ev.domain).await? else {
            return Ok(());
        };
        let (users, drills) = self.store.notify_settings(ev.domain).await?;
        if !users || (ev.drill && !drills) {
            tracing::info!(domain = %d.name, kind = ev.kind.as_str(), drill = ev.drill, "users not told: off for this domain");
            return Ok(());
        }
        let targets = self.store.notice_targets(ev.domain).await?;
        let snap = self.store.directory_snapshot().await?;
        let mut told = 0;
        for t in &targets {
            for channel in [Channel::Email, Channel::Sms] {
                let Some(point) = t.contacts.get(channel).filter(|p| p.verified) else {
                    continue;
                };
                let lang = lang_of(t.lang.as_deref());
                let mut n = NewNotice {
                    domain: ev.domain,
                    event_at: ev.event_at,
                    kind: ev.kind,
                    user: t.user,
                    channel,
                    address: &point.value,
                    lang: lang.code(),
                    status: NoticeStatus::Skipped,
                    detail: "",
                    message: None,
                };
                let since = now_ms() - self.quiet.as_millis() as i64;
                if self
                    .store
                    .told_since(t.user, channel, ev.kind, since)
                    .await?
                {
                    n.detail = "quiet";
                    self.store.insert_notice(&n).await?;
                    continue;
                }
                match channel {
                    Channel::Email => {
                        match snap.check(&point.value) {
                            RcptVerdict::Accept { domain, .. } if domain == ev.domain => {
                                n.detail = "failing-domain";
                                self.store.insert_notice(&n).await?;
                                continue;
                            }
                            _ => {}
                        }
                        // recorded first: a notice is mailed at most once
                        n.status = NoticeStatus::Sent;
                        n.detail = "queued";
                        let Some(id) = self.store.insert_notice(&n).await? else {
                            continue;
                        };
                        let message = self.mail(&d.name, ev.kind, lang, &point.value, id).await?;
                        self.store
                            .notice_outcome(id, NoticeStatus::Sent, "queued", None, Some(message))
                            .await?;
                        told += 1;
                    }
                    Channel::Sms => {
                        let cap = self.sms.as_ref().map(|g| g.cfg.cap_per_domain as i64);
                        match cap {
                            None => n.detail = "no-gateway",
                            Some(cap)
                                if self.store.sms_in_event(ev.domain, ev.event_at).await?
                                    >= cap =>
                            {
                                n.detail = "cap"
                            }
                            Some(_) => {
                                n.status = NoticeStatus::Queued;
                                told += 1;
                            }
                        }
                        self.store.insert_notice(&n).await?;
                    }
                }
            }
        }
        tracing::info!(domain = %d.name, kind = ev.kind.as_str(), users = targets.len(), told, "users told");
        Ok(())
    }

    /// Queue a notice's mail; its message id.
    async fn mail(
        &self,
        domain: &str,
        kind: NoticeKind,
        lang: Lang,
        to: &str,
        notice: i64,
    ) -> Result<i64, StoreError> {
        let (subject, text) = texts::mail(lang, kind, domain, &self.webmail);
        queue_mail(
            &self.store,
            &self.hostname,
            to,
            &subject,
            &text,
            &format!("notice-{notice}"),
        )
        .await
    }

    async fn send_sms(&self, n: &NoticeRow) -> Result<(), StoreError> {
        let Some(gateway) = &self.sms else {
            return self
                .store
                .notice_outcome(n.id, NoticeStatus::Skipped, "no-gateway", None, None)
                .await;
        };
        let domain = self
            .store
            .monitored_domain(n.domain)
            .await?
            .map(|d| d.name)
            .unwrap_or_default();
        let text = texts::sms(lang_of(Some(&n.lang)), n.kind, &domain, &self.webmail);
        let result = gateway
            .send(&format!("notice-{}", n.id), &n.address, &text)
            .await;
        crate::metrics::webhook(result.is_ok());
        match result {
            Ok(()) => {
                tracing::info!(notice = n.id, user = %n.user, "SMS sent");
                self.store
                    .notice_outcome(n.id, NoticeStatus::Sent, "", None, None)
                    .await
            }
            Err(why) => {
                let age = now_ms() - n.created_at;
                let wait = SMS_BACKOFF_MS[(n.attempts as usize).min(SMS_BACKOFF_MS.len() - 1)];
                if age + wait > SMS_GIVE_UP_MS {
                    tracing::error!(notice = n.id, error = %why, "SMS given up after an hour");
                    self.store
                        .notice_outcome(n.id, NoticeStatus::Failed, &why, None, None)
                        .await
                } else {
                    tracing::warn!(notice = n.id, error = %why, "SMS not sent; trying again");
                    self.store
                        .notice_outcome(
                            n.id,
                            NoticeStatus::Queued,
                            &why,
                            Some(now_ms() + wait),
                            None,
                        )
                        .await
                }
            }
        }
    }

    /// Send again what failed or was skipped (by the cap, or for want of a
    /// gateway) in a domain's last event (the Control Panel's button).
    /// Returns how many were queued again.
    pub async fn resend(&self, domain: DomainId) -> Result<usize, StoreError> {
        let mut again = 0;
        for n in self.store.last_event_notices(domain).await? {
            let retry = n.status == NoticeStatus::Failed
                || (n.status == NoticeStatus::Skipped
                    && matches!(n.detail.as_str(), "cap" | "no-gateway"))
                || matches!(n.delivery.as_deref(), Some("bounced" | "expired"));
            if !retry {
                continue;
            }
            match n.channel {
                Channel::Sms => {
                    self.store
                        .notice_outcome(n.id, NoticeStatus::Queued, "resent", Some(now_ms()), None)
                        .await?;
                }
                Channel::Email => {
                    let Some(d) = self.store.monitored_domain(n.domain).await? else {
                        continue;
                    };
                    let m = self
                        .mail(&d.name, n.kind, lang_of(Some(&n.lang)), &n.address, n.id)
                        .await?;
                    self.store
                        .notice_outcome(n.id, NoticeStatus::Sent, "resent", None, Some(m))
                        .await?;
                }
            }
            again += 1;
        }
        Ok(again)
    }
}

/// Queue an automatic mail from `continuity@hostname` to `to` (tracked and
/// delivered like any message: to its domain's mailbox and primary when
/// it is one we protect, else outbound). Its message id.
pub async fn queue_mail(
    store: &Store,
    hostname: &str,
    to: &str,
    subject: &str,
    text: &str,
    tag: &str,
) -> Result<i64, StoreError> {
    let from = format!("continuity@{hostname}");
    let raw = MessageBuilder::new()
        .from(("Continuity", from.as_str()))
        .to(to)
        .subject(subject)
        .message_id(format!("{tag}-{}@{hostname}", now_ms()))
        .header("Auto-Submitted", Raw::new("auto-generated"))
        .text_body(text)
        .write_to_vec()
        .unwrap_or_default();
    let snap = store.directory_snapshot().await?;
    let rcpt = match snap.check(to) {
        RcptVerdict::Accept { domain, user } => NewRecipient {
            rcpt: to.to_string(),
            domain: Some(domain),
            user,
        },
        _ => NewRecipient {
            rcpt: to.to_string(),
            domain: None,
            user: None,
        },
    };
    let id = store
        .ingest(NewMessage {
            origin: Origin::Smtp,
            mail_from: from,
            client_ip: Some("127.0.0.1".into()),
            helo: Some("continuity (user notice)".into()),
            tls: false,
            summary: Summary::parse(&raw),
            raw,
            recipients: vec![rcpt],
            in_reply_to: None,
            sign_as: None,
        })
        .await?;
    Ok(id.0)
}
