//! Telling systemd how the service is (a `Type=notify` unit, see
//! `contrib/systemd/continuity.service`): `READY=1` once every listener
//! accepts, `WATCHDOG=1` while they all still do, `RELOADING=1` … `READY=1`
//! around a certificate reload (SIGHUP), `STOPPING=1` at the end, with a
//! `STATUS=` line for `systemctl status`. Nothing at all when systemd did
//! not start the process (no `$NOTIFY_SOCKET`).
//!
//! The watchdog does not wait on the database: a database that is down
//! makes mail wait with 451 until it is back, and a restart would not
//! bring it back sooner.

use std::sync::Arc;

use sd_notify::NotifyState;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::health::Health;

fn tell(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "cannot notify systemd");
    }
}

/// Startup is finished: every listener accepts.
pub fn ready(status: &str) {
    tell(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// A reload (the certificate) begins; [`ready`] ends it.
pub fn reloading() {
    tell(&[
        NotifyState::Reloading,
        NotifyState::monotonic_usec_now().unwrap_or(NotifyState::Status("reloading")),
    ]);
}

pub fn stopping() {
    tell(&[
        NotifyState::Stopping,
        NotifyState::Status("stopping: finishing sessions in DATA and deliveries under way"),
    ]);
}

/// Ping systemd's watchdog (`WatchdogSec=`) at half its interval while
/// every listener accepts; none if it is not enabled.
pub fn watchdog(
    health: Arc<Health>,
    mut shutdown: watch::Receiver<bool>,
) -> Option<JoinHandle<()>> {
    let every = sd_notify::watchdog_enabled()? / 2;
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            match health.listeners_down() {
                None => tell(&[NotifyState::Watchdog]),
                Some(why) => {
                    tracing::error!(%why, "not telling systemd's watchdog this node is well");
                    tell(&[NotifyState::Status(&why)]);
                }
            }
        }
    }))
}
