//! The Control Panel's read views that gather the most: a domain's
//! Continuity Service page (settings, state, held queue, report, webhook,
//! timeline, audit) and its directory sync page.

use app::backend::{
    AdminSession, AuditEntry, BackendError, ContinuityUser, ContinuityView, DirectoryView,
    EmergencyUser, HeldView, PrimaryView, TimelineEntry, WebhookEntry,
};

use super::backend::{admin_domain, admin_domain_name, report, unavailable};
use crate::auth::Auth;
use crate::store::Store;

pub async fn continuity_view(
    store: &Store,
    auth: &Auth,
    sms: bool,
    session: &AdminSession,
    domain: &str,
    reveal: &str,
) -> Result<ContinuityView, BackendError> {
    let (_, id) = admin_domain(store, session, domain).await?;
    let webhook_secret =
        auth.reveals
            .take(&session.csrf, reveal, &super::webhook_forms::reveal_key(id));
    let s = store
        .continuity_settings(id)
        .await
        .map_err(unavailable)?
        .ok_or(BackendError::NotFound)?;
    let audit = store.audit_log(id, 20).await.map_err(unavailable)?;
    let emergency = store.emergency_status(id).await.map_err(unavailable)?;
    let emergency_enabled = store.emergency_enabled(id).await.map_err(unavailable)?;
    let m = store
        .monitored_domain(id)
        .await
        .map_err(unavailable)?
        .ok_or(BackendError::NotFound)?;
    let timeline = store.timeline(id, 10).await.map_err(unavailable)?;
    let held = store.held_queue(id).await.map_err(unavailable)?;
    let report = report(store, id, None).await?;
    let webhook = store.webhook_url(id).await.map_err(unavailable)?;
    let webhook_log = store
        .webhook_log(id, 5)
        .await
        .map_err(unavailable)?
        .into_iter()
        .map(|(id, status, attempts, err, body)| WebhookEntry {
            id,
            event: serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["event"].as_str().map(str::to_string))
                .unwrap_or_default(),
            status,
            attempts,
            last_error: err.unwrap_or_default(),
        })
        .collect();
    let notices = super::notify_forms::notices_view(store, sms, id).await?;
    let users_second_factor = store.users_second_factor(id).await.map_err(unavailable)?;
    Ok(ContinuityView {
        notices,
        users_second_factor,
        webhook,
        webhook_secret,
        webhook_log,
        held: HeldView {
            waiting: held.waiting,
            via_continuity: held.via_continuity,
            oldest: held.oldest,
        },
        report,
        emergency_enabled,
        emergency: emergency
            .into_iter()
            .map(|e| EmergencyUser {
                id: e.user.0,
                address: e.address,
                display_name: e.display_name,
                source: e.source,
                status: e.status,
            })
            .collect(),
        primary: PrimaryView {
            host: m.primary_host,
            port: m.primary_port,
            tls: m.primary_tls,
            interval_s: m.probe_interval_ms / 1000,
            timeout_s: m.probe_timeout_ms / 1000,
            fail_after: m.fail_after,
            recover_after: m.recover_after,
            probe_rcpt: m.probe_rcpt,
        },
        timeline: timeline
            .into_iter()
            .map(|t| TimelineEntry {
                at: t.at,
                from: t.from,
                to: t.to,
                reason: t.reason,
            })
            .collect(),
        domain: s.name,
        enabled: s.enabled,
        scope: s.scope,
        users: s
            .users
            .into_iter()
            .map(|(id, address, display_name)| ContinuityUser {
                id: id.0,
                address,
                display_name,
            })
            .collect(),
        state: s.state,
        audit: audit
            .into_iter()
            .map(|a| AuditEntry {
                at: a.at,
                actor: a.actor,
                action: a.action,
                before: a.before.unwrap_or_default(),
                after: a.after.unwrap_or_default(),
            })
            .collect(),
    })
}

pub async fn directory_view(
    store: &Store,
    session: &AdminSession,
    domain: &str,
) -> Result<DirectoryView, BackendError> {
    let (id, name) = admin_domain_name(store, session, domain).await?;
    let mut v = DirectoryView {
        domain: name,
        interval_min: 60,
        max_disable_pct: 20,
        user_filter: "(mail=*)".into(),
        flavor: "openldap".into(),
        mobile_attr: "mobile".into(),
        alt_email_attr: "otherMailbox".into(),
        ..Default::default()
    };
    if let Some(c) = store.directory(id).await.map_err(unavailable)? {
        v.configured = true;
        v.url = c.url;
        v.starttls = c.starttls;
        v.allow_plaintext = c.allow_plaintext;
        v.ca_file = c.ca_file.unwrap_or_default();
        v.bind_dn = c.bind_dn;
        v.bind_password_file = c.bind_password_file.unwrap_or_default();
        v.base_dn = c.base_dn;
        v.user_filter = c.user_filter;
        v.group_dn = c.group_dn.unwrap_or_default();
        v.flavor = c.flavor;
        v.mobile_attr = c.mobile_attr;
        v.alt_email_attr = c.alt_email_attr;
        v.interval_min = c.interval_s / 60;
        v.max_disable_pct = c.max_disable_pct;
    }
    if let Some(st) = store.sync_status(id).await.map_err(unavailable)? {
        v.last_at = st.at;
        v.last_ok = st.ok;
        v.last_result = st.result;
        let d: serde_json::Value = serde_json::from_str(&st.diff).unwrap_or_default();
        let list = |k: &str| -> Vec<String> {
            d[k].as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        v.last_seen = d["seen"].as_u64();
        v.added = list("added");
        v.updated = list("updated");
        v.disabled = list("disabled");
        v.enabled = list("enabled");
        v.warnings = list("warnings");
    }
    Ok(v)
}
