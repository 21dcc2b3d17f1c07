//! The Control Panel's primary server and the domain's state, as plain
//! form posts: the primary's address and monitoring (or a test of the
//! connection with the values typed, saving nothing), and starting
//! continuity now, ending it or running a drill. Each handler checks the
//! administrator, the domain and the CSRF token ([`super::admin_forms::guard`]).

#![allow(clippy::result_large_err)]

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::admin_forms::{guard, is_operator, page};
use super::forms::{enc, see_other};
use super::WebState;

#[derive(Deserialize)]
pub struct PrimaryForm {
    csrf: String,
    host: String,
    port: String,
    tls: String,
    interval: String,
    timeout: String,
    fail_after: String,
    recover_after: String,
    probe_rcpt: String,
    /// "test": try the connection with these values, save nothing.
    action: Option<String>,
}

/// POST /admin/d/{domain}/continuity/primary: save the primary and its
/// monitoring, or test the connection with the values typed.
pub async fn set_primary(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<String>,
    form: web::Form<PrimaryForm>,
) -> HttpResponse {
    let domain = path.into_inner();
    let (id, actor) = match guard(&req, &state, &domain, &form.csrf).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    let bad = |what: &str| see_other(&format!("{}?e=primary&field={what}", page(&domain)));
    let host = form.host.trim();
    if host.is_empty()
        || host.len() > 253
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
    {
        return bad("host");
    }
    let Ok(port) = form.port.trim().parse::<u16>() else {
        return bad("port");
    };
    if port == 0 {
        return bad("port");
    }
    let Ok(tls) = form.tls.parse::<crate::config::TlsMode>() else {
        return bad("tls");
    };
    let num = |s: &str, lo: i64, hi: i64| {
        s.trim()
            .parse::<i64>()
            .ok()
            .filter(|v| (lo..=hi).contains(v))
    };
    let (Some(interval), Some(timeout), Some(fail_after), Some(recover_after)) = (
        num(&form.interval, 1, 3600),
        num(&form.timeout, 1, 300),
        num(&form.fail_after, 1, 100),
        num(&form.recover_after, 1, 100),
    ) else {
        return bad("monitoring");
    };
    let rcpt = form.probe_rcpt.trim();
    let rcpt = if rcpt.is_empty() {
        None
    } else if crate::store::admin::normalize_address(rcpt).is_ok()
        // the probe asks for the domain's own mail, nobody else's
        && rcpt
            .rsplit_once('@')
            .is_some_and(|(_, d)| d.eq_ignore_ascii_case(&domain))
    {
        Some(rcpt)
    } else {
        return bad("probe_rcpt");
    };
    let before = match state.store.monitored_domain(id).await {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "reading the primary failed");
            return HttpResponse::ServiceUnavailable().finish();
        }
    };
    // A domain admin names a public mail server on a mail port (else this
    // form would be a port scanner of our own network), unless an operator
    // allowed more for the domain; what is already set stays usable.
    let unchanged = before
        .as_ref()
        .is_some_and(|b| b.primary_host.eq_ignore_ascii_case(host) && b.primary_port == port);
    let mut checked = None;
    if !unchanged && !is_operator(&req, &state).await {
        let allow = match state.store.primary_allowance(id).await {
            Ok(a) => a,
            Err(e) => {
                tracing::error!(error = %e, "reading the primary allowance failed");
                return HttpResponse::ServiceUnavailable().finish();
            }
        };
        match crate::monitor::reach::resolve_checked(host, port, &allow).await {
            Ok(addrs) => checked = addrs.first().copied(),
            Err(refusal) => {
                use crate::monitor::reach::Refusal;
                let why = match refusal {
                    Refusal::Port(_) => "port",
                    Refusal::Address { .. } => "address",
                    Refusal::Unresolved(_) => "unresolved",
                };
                tracing::info!(%actor, %refusal, "primary refused");
                return see_other(&format!(
                    "{}?e=primary&field={}&why={why}",
                    page(&domain),
                    if why == "port" { "port" } else { "host" }
                ));
            }
        }
    }
    if form.action.as_deref() == Some("test") {
        let target = crate::monitor::probe::ProbeTarget {
            host: host.to_string(),
            port,
            tls,
            rcpt: rcpt
                .map(str::to_string)
                .unwrap_or_else(|| format!("postmaster@{domain}")),
            connect_to: checked,
        };
        let r = crate::monitor::probe::probe(
            &target,
            &state.hostname,
            std::time::Duration::from_secs(timeout as u64),
        )
        .await;
        let (ok, text) = match r {
            Ok(reply) => ("ok", reply),
            Err(why) => ("fail", why),
        };
        let text: String = text.chars().take(300).collect();
        return see_other(&format!(
            "{}?tested={ok}&reply={}",
            page(&domain),
            enc(&text)
        ));
    }
    if let Err(e) = state.store.set_primary(id, host, port, tls).await {
        tracing::error!(error = %e, "saving the primary failed");
        return HttpResponse::ServiceUnavailable().finish();
    }
    if let Err(e) = state
        .store
        .set_monitoring(
            id,
            interval * 1000,
            timeout * 1000,
            fail_after as u32,
            recover_after as u32,
            rcpt,
        )
        .await
    {
        tracing::error!(error = %e, "saving the monitoring failed");
        return HttpResponse::ServiceUnavailable().finish();
    }
    let describe = |h: &str, p: u16, t: &str, i: i64, f: u32, r: u32| {
        format!("{h}:{p} {t}, every {i} s, outage after {f}, recovery after {r}")
    };
    let _ = state
        .store
        .audit_change(
            id,
            &actor,
            "primary",
            before
                .map(|b| {
                    describe(
                        &b.primary_host,
                        b.primary_port,
                        &b.primary_tls,
                        b.probe_interval_ms / 1000,
                        b.fail_after,
                        b.recover_after,
                    )
                })
                .as_deref(),
            Some(&describe(
                host,
                port,
                tls.as_str(),
                interval,
                fail_after as u32,
                recover_after as u32,
            )),
        )
        .await;
    see_other(&format!("{}?done=primary", page(&domain)))
}

#[derive(Deserialize)]
pub struct StateForm {
    csrf: String,
    /// "activate", "end" or "drill"
    action: String,
    /// drill length in minutes
    minutes: Option<String>,
}

/// POST /admin/d/{domain}/continuity/state: start continuity now, end it,
/// or run a drill (the same machine as the monitor's; see `monitor::command`).
pub async fn change_state(
    req: HttpRequest,
    state: web::Data<WebState>,
    path: web::Path<String>,
    form: web::Form<StateForm>,
) -> HttpResponse {
    use crate::monitor::state::Input;
    let domain = path.into_inner();
    let (id, actor) = match guard(&req, &state, &domain, &form.csrf).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    let input = match form.action.as_str() {
        "activate" => Input::ActivateNow { by: actor },
        "end" => Input::End { by: actor },
        "drill" => {
            let minutes = form
                .minutes
                .as_deref()
                .and_then(|m| m.trim().parse::<i64>().ok())
                .filter(|m| (1..=24 * 60).contains(m))
                .unwrap_or(30);
            Input::StartDrill {
                by: actor,
                until_ms: crate::store::now_ms() + minutes * 60_000,
            }
        }
        _ => return HttpResponse::BadRequest().body("unknown action"),
    };
    match crate::monitor::command(&state.store, &state.hostname, id, input).await {
        Ok(mode) => see_other(&format!("{}?done=state-{}", page(&domain), mode.as_str())),
        Err(crate::store::StoreError::Invalid(_)) => {
            see_other(&format!("{}?e=state", page(&domain)))
        }
        Err(e) => {
            tracing::error!(error = %e, "state change failed");
            HttpResponse::ServiceUnavailable().finish()
        }
    }
}
