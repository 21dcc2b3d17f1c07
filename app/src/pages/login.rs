//! The login page (and `/`, which sends you to your inbox or here). The form
//! posts to `/auth/login` (a plain form: works without JavaScript); a
//! refusal comes back as `?error=` with one message whatever the cause.

use leptos::prelude::*;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_query_map;

use crate::components::shell::{use_lang, LangSwitch};
use crate::mail::get_viewer;

/// `/`: the inbox when logged in, else the login page.
#[component]
pub fn Home() -> impl IntoView {
    let viewer = Resource::new(|| (), |_| get_viewer());
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                match viewer.await {
                    Ok(Some(_)) => view! { <Redirect path="/mail/inbox"/> }.into_any(),
                    _ => view! { <Redirect path="/login"/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let t = use_lang().t();
    let q = use_query_map();
    let get = move |k: &str| q.with_untracked(|q| q.get(k)).unwrap_or_default();
    let error = match get("error").as_str() {
        "invalid" => Some(t.login_invalid),
        "throttled" => Some(t.login_throttled),
        "notcovered" => Some(t.login_notcovered),
        "unavailable" => Some(t.unavailable),
        "expired" => Some(use_lang().sec().login_expired),
        _ => None,
    };
    let notice = if get("set") == "1" {
        Some(t.password_set_ok)
    } else if get("bye") == "1" {
        Some(t.logged_out)
    } else if get("expired") == "1" {
        Some(t.session_expired)
    } else {
        None
    };
    let next = get("next");
    let address = get("address");
    // Effects run only in the browser: marks the page as hydrated (e2e tests).
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <header class="topbar">
            <span class="brand">"Continuity"</span>
            <LangSwitch/>
        </header>
        <main id="content" class="narrow">
            <h1 data-hydrated=move || hydrated.get().then_some("true")>{t.login_title}</h1>
            <p class="lede">{t.login_intro}</p>
            {notice.map(|n| view! { <p class="alert notice" role="status">{n}</p> })}
            {error.map(|e| view! { <p class="alert error" role="alert" id="login-error">{e}</p> })}
            <form method="post" action="/auth/login" class="stack">
                <input type="hidden" name="next" value=next/>
                <label>
                    {t.address}
                    <input type="email" name="address" required autocomplete="username"
                        value=address autofocus=true/>
                </label>
                <label>
                    {t.password}
                    <input type="password" name="password" required autocomplete="current-password"/>
                </label>
                <button type="submit" class="primary">{t.log_in}</button>
            </form>
        </main>
    }
}
