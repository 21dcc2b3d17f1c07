//! `/settings`: the account, and changing the (emergency) password with
//! the current one. Posts to `/settings/password` with the CSRF token.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::backend::Viewer;
use crate::components::shell::{use_lang, MailShell};
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
        }
    })
}
