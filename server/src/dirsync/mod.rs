//! Directory sync: a domain's users from its LDAP / Active Directory, on a
//! schedule and on demand.
//!
//! - [`plan`]: what a run changes (pure);
//! - [`csv`]: the same for a CSV file, for domains without a directory;
//! - here: reading the directory with ldap3 (ldap://, StartTLS, ldaps://
//!   with a given CA; simple bind; paged search), the disable guard, and
//!   the scheduled runs.
//!
//! A run that fails in any way (directory down, bad credentials, TLS, a
//! filter that suddenly matches nothing and would disable too many users)
//! changes nothing and says why, in the logs and on the Control Panel.

pub mod contacts;
pub mod csv;
pub mod plan;

use std::sync::Arc;
use std::time::Duration;

use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{LdapConnAsync, LdapConnSettings, Scope, SearchEntry};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use tokio::sync::watch;

use crate::store::contacts::ContactSource;
use crate::store::directories::DirectoryConfig;
use crate::store::{now_ms, Store};
use plan::{Entry, Plan};

/// Entries per page of the search (servers cap a single answer, often at
/// 500 or 1000).
const PAGE: i32 = 500;
const TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("{0}")]
    Config(String),
    #[error("cannot reach the directory {url}: {message}")]
    Connect { url: String, message: String },
    #[error("the directory refused the bind as {dn:?}: {message}")]
    Bind { dn: String, message: String },
    #[error("the search failed: {0}")]
    Search(String),
    #[error(
        "refused: this run would disable {would} of {of} directory users ({pct} %, more than the \
         {max} % allowed); nothing was changed (check the filter and group, or run again with \
         --force)"
    )]
    Guard {
        would: usize,
        of: usize,
        pct: u32,
        max: u32,
    },
    #[error("the store failed: {0}")]
    Store(#[from] crate::store::StoreError),
}

/// What a run found and did.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub plan: Plan,
    pub applied: bool,
}

fn tls_config(c: &DirectoryConfig) -> Result<Arc<rustls::ClientConfig>, SyncError> {
    let mut roots = rustls::RootCertStore::empty();
    match &c.ca_file {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| SyncError::Config(format!("cannot read the CA file {path}: {e}")))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| SyncError::Config(format!("cannot read the CA file {path}: {e}")))?;
            if certs.is_empty() {
                return Err(SyncError::Config(format!("{path} holds no certificate")));
            }
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|e| SyncError::Config(format!("{path}: {e}")))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SyncError::Config(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn password(c: &DirectoryConfig) -> Result<String, SyncError> {
    // checked here too, whatever the settings' path into the store: the
    // password never travels in clear unless an operator allowed it
    if c.is_plaintext() && !c.allow_plaintext {
        return Err(SyncError::Config(
            "plain LDAP without StartTLS would send the bind password in clear: use ldaps:// \
             or StartTLS (only an operator can allow plain LDAP)"
                .into(),
        ));
    }
    match &c.bind_password_file {
        None => Ok(String::new()),
        Some(path) => std::fs::read_to_string(path)
            .map(|s| s.trim_end_matches(['\r', '\n']).to_string())
            .map_err(|e| {
                SyncError::Config(format!("cannot read the bind password file {path}: {e}"))
            }),
    }
}

/// The search filter: the user filter, restricted to a group's members
/// (nested groups too on Active Directory).
pub fn filter(c: &DirectoryConfig) -> String {
    match &c.group_dn {
        Some(g) if !g.trim().is_empty() => {
            let g = ldap3::ldap_escape(g.trim());
            let member = if c.flavor == "ad" {
                format!("(memberOf:1.2.840.113556.1.4.1941:={g})")
            } else {
                format!("(memberOf={g})")
            };
            format!("(&{}{member})", c.user_filter)
        }
        _ => c.user_filter.clone(),
    }
}

/// Read the directory's users (every page).
pub async fn read(
    c: &DirectoryConfig,
    mut progress: impl FnMut(usize),
) -> Result<Vec<Entry>, SyncError> {
    let pw = password(c)?;
    let mut settings = LdapConnSettings::new()
        .set_conn_timeout(TIMEOUT)
        .set_starttls(c.starttls);
    if c.url.starts_with("ldaps://") || c.starttls {
        settings = settings.set_config(tls_config(c)?);
    }
    let connect = |e: ldap3::LdapError| SyncError::Connect {
        url: c.url.clone(),
        message: e.to_string(),
    };
    let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &c.url)
        .await
        .map_err(connect)?;
    ldap3::drive!(conn);
    ldap.with_timeout(TIMEOUT);
    if !c.bind_dn.is_empty() {
        let r = ldap.simple_bind(&c.bind_dn, &pw).await.map_err(connect)?;
        if r.rc != 0 {
            return Err(SyncError::Bind {
                dn: c.bind_dn.clone(),
                message: if r.rc == 49 {
                    "invalid credentials".into()
                } else {
                    format!("result code {} {}", r.rc, r.text)
                },
            });
        }
    }
    let adapters: Vec<Box<dyn Adapter<_, _>>> = vec![
        Box::new(EntriesOnly::new()),
        Box::new(PagedResults::new(PAGE)),
    ];
    let mut attrs = vec![
        "mail",
        "cn",
        "displayName",
        "proxyAddresses",
        "userAccountControl",
    ];
    for a in [c.mobile_attr.trim(), c.alt_email_attr.trim()] {
        if !a.is_empty() {
            attrs.push(a);
        }
    }
    let mut search = ldap
        .streaming_search_with(adapters, &c.base_dn, Scope::Subtree, &filter(c), attrs)
        .await
        .map_err(|e| SyncError::Search(e.to_string()))?;
    let mut entries = Vec::new();
    while let Some(raw) = search
        .next()
        .await
        .map_err(|e| SyncError::Search(e.to_string()))?
    {
        let e = SearchEntry::construct(raw);
        let first = |k: &str| e.attrs.get(k).and_then(|v| v.first()).cloned();
        let uac: u32 = first("userAccountControl")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        entries.push(Entry {
            mail: e.attrs.get("mail").cloned().unwrap_or_default(),
            proxy: e.attrs.get("proxyAddresses").cloned().unwrap_or_default(),
            name: first("displayName")
                .or_else(|| first("cn"))
                .unwrap_or_default(),
            // ACCOUNTDISABLE
            disabled: c.flavor == "ad" && uac & 2 != 0,
            mobile: Some(c.mobile_attr.trim())
                .filter(|a| !a.is_empty())
                .and_then(first),
            alt_email: Some(c.alt_email_attr.trim())
                .filter(|a| !a.is_empty())
                .and_then(first),
            dn: e.dn,
        });
        progress(entries.len());
    }
    let r = search.finish().await;
    if r.rc != 0 {
        return Err(SyncError::Search(format!(
            "result code {} {}",
            r.rc, r.text
        )));
    }
    let _ = ldap.unbind().await;
    Ok(entries)
}

/// Bind and count the users the settings select (the "test" button).
pub async fn test(c: &DirectoryConfig) -> Result<usize, SyncError> {
    Ok(read(c, |_| {}).await?.len())
}

/// The changes of a plan as JSON (kept as the last run's diff).
pub fn diff_json(p: &Plan) -> String {
    serde_json::json!({
        "seen": p.seen,
        "added": p.adds.iter().map(|a| &a.address).collect::<Vec<_>>(),
        "updated": p.updates.iter().map(|u| &u.address).collect::<Vec<_>>(),
        "disabled": p.disables.iter().map(|(_, a)| a).collect::<Vec<_>>(),
        "enabled": p.enables.iter().map(|(_, a)| a).collect::<Vec<_>>(),
        "warnings": p.warnings,
    })
    .to_string()
}

/// One run for a domain: read, plan, guard, apply (unless `dry_run`),
/// record. `force` lifts the disable guard for this run.
pub async fn sync(
    store: &Store,
    c: &DirectoryConfig,
    dry_run: bool,
    force: bool,
    progress: impl FnMut(usize),
) -> Result<Outcome, SyncError> {
    let result = run(store, c, dry_run, force, progress).await;
    if !dry_run {
        let (ok, text, diff) = match &result {
            Ok(o) => (
                true,
                format!(
                    "{} users: {} added, {} updated, {} disabled, {} enabled, {} warnings",
                    o.plan.seen,
                    o.plan.adds.len(),
                    o.plan.updates.len(),
                    o.plan.disables.len(),
                    o.plan.enables.len(),
                    o.plan.warnings.len()
                ),
                Some(diff_json(&o.plan)),
            ),
            Err(e) => (false, e.to_string(), None),
        };
        if let Err(e) = store
            .record_sync(c.domain, ok, &text, diff.as_deref())
            .await
        {
            tracing::error!(error = %e, "cannot record the directory sync");
        }
        crate::metrics::directory_sync(ok);
        match &result {
            Ok(_) => tracing::info!(domain = %c.domain, result = %text, "directory sync"),
            Err(_) => {
                tracing::error!(domain = %c.domain, error = %text, "directory sync failed; nothing changed")
            }
        }
    }
    result
}

async fn run(
    store: &Store,
    c: &DirectoryConfig,
    dry_run: bool,
    force: bool,
    progress: impl FnMut(usize),
) -> Result<Outcome, SyncError> {
    let domain = store
        .domain(c.domain)
        .await?
        .ok_or_else(|| SyncError::Config(format!("domain {} is gone", c.domain)))?;
    let entries = read(c, progress).await?;
    let current = store.sync_users(c.domain).await?;
    let p = plan::plan(&domain.name, &entries, &current);
    let pct = p.disable_pct(&current);
    if !force && !p.disables.is_empty() && pct > c.max_disable_pct {
        return Err(SyncError::Guard {
            would: p.disables.len(),
            of: current
                .iter()
                .filter(|u| u.source == "ldap" && !u.disabled)
                .count(),
            pct,
            max: c.max_disable_pct,
        });
    }
    if !dry_run && !p.is_empty() {
        store.apply_plan(c.domain, "ldap", &p).await?;
    }
    if !dry_run {
        let (changed, warnings) =
            contacts::apply(store, &p.contacts, ContactSource::Directory).await?;
        for w in warnings {
            tracing::warn!(domain = %c.domain, "{w}");
        }
        if changed > 0 {
            tracing::info!(domain = %c.domain, changed, "users' contact points from the directory");
        }
    }
    Ok(Outcome {
        applied: !dry_run && !p.is_empty(),
        plan: p,
    })
}

/// Scheduled syncs: every minute, each directory whose interval has passed.
pub async fn run_schedule(
    store: Store,
    leading: watch::Receiver<bool>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
        if !*leading.borrow() {
            continue; // another node runs the schedule
        }
        let due = match store.directories_due(now_ms()).await {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the directory settings");
                continue;
            }
        };
        for c in due {
            let _ = sync(&store, &c, false, false, |_| {}).await;
        }
    }
}
