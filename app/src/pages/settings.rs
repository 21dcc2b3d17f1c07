//! `/settings`: the account, and changing the (emergency) password with
//! the current one. Posts to `/settings/password` with the CSRF token.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::backend::{OutageReport, Viewer};
use crate::components::shell::{use_lang, MailShell};
use crate::i18n::{long_date, TzOffset};
use crate::mail::my_report;
use crate::pages::security::{SecuritySection, SecuritySide};
use crate::pages::set_password::{problems_from_query, PolicyList};

#[component]
pub fn SettingsPage() -> impl IntoView {
    view! { <MailShell><SettingsBody/></MailShell> }
}

#[component]
fn SettingsBody() -> impl IntoView {
    let t = use_lang().t();
    let v = use_context::<Viewer>();
    let q = use_query_map();
    let changed = q.with_untracked(|q| q.get("changed")).is_some();
    let problems = problems_from_query(&q.with_untracked(|q| q.get("e")).unwrap_or_default(), t);
    v.map(|v| {
        let ldap = v.source == "ldap";
        view! {
            <h1>{t.settings}</h1>
            <section class="card">
                <h2>{t.account}</h2>
                <p>{v.address.clone()}</p>
                <p class="muted">{if ldap { t.ldap_user_note } else { t.local_user_note }}</p>
            </section>
            <section class="card">
                <h2>{if ldap { t.emergency_password } else { t.change_password_title }}</h2>
                {changed.then(|| view! { <p class="alert notice" role="status" id="password-changed">{t.password_changed}</p> })}
                {(!problems.is_empty()).then(|| view! {
                    <ul class="alert error" role="alert" id="password-problems">
                        {problems.iter().map(|p| view! { <li>{*p}</li> }).collect_view()}
                    </ul>
                })}
                <PolicyList/>
                <form method="post" action="/settings/password" class="stack">
                    <input type="hidden" name="csrf" value=v.csrf.clone()/>
                    <label>
                        {t.current_password}
                        <input type="password" name="current" required autocomplete="current-password"/>
                    </label>
                    <label>
                        {t.new_password}
                        <input type="password" name="password" required minlength="12" autocomplete="new-password"/>
                    </label>
                    <label>
                        {t.confirm_password}
                        <input type="password" name="confirm" required minlength="12" autocomplete="new-password"/>
                    </label>
                    <button type="submit" class="primary">{t.save_password}</button>
                </form>
            </section>
            <crate::pages::notify::ContactsSection/>
            <SecuritySection side=SecuritySide::User/>
            <MyReport/>
        }
    })
}

/// The user's own line of the last outage's reconciliation report.
#[component]
fn MyReport() -> impl IntoView {
    let report = Resource::new(|| (), |_| my_report());
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                report.await.ok().flatten().map(|r| view! { <ReportCard r/> })
            })}
        </Suspense>
    }
}

#[component]
fn ReportCard(r: OutageReport) -> impl IntoView {
    let lang = use_lang();
    let t = lang.t();
    let tz = use_context::<TzOffset>().unwrap_or_default();
    let line = r.lines.into_iter().next();
    let n = |f: fn(&crate::backend::ReportLine) -> i64| line.as_ref().map(f).unwrap_or(0);
    view! {
        <section class="card" id="my-report">
            <h2>{t.my_report_title}</h2>
            <p class="muted">
                {t.my_report_window}" "{long_date(r.start, tz, lang)}
                {match r.end {
                    Some(end) => format!(" → {}", long_date(end, tz, lang)),
                    None => format!(" · {}", t.my_report_ongoing),
                }}
            </p>
            <dl class="report">
                <dt>{t.my_held}</dt><dd data-count="held">{n(|l| l.held)}</dd>
                <dt>{t.my_delivered}</dt><dd data-count="delivered">{n(|l| l.delivered)}</dd>
                <dt>{t.my_pending}</dt><dd data-count="pending">{n(|l| l.pending)}</dd>
                <dt>{t.my_failed}</dt><dd data-count="failed">{n(|l| l.failed)}</dd>
                <dt>{t.my_sent}</dt><dd data-count="sent">{n(|l| l.sent)}</dd>
            </dl>
        </section>
    }
}
