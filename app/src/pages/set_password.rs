//! `/set-password?t=…`: the page an emailed link opens, to set the
//! emergency password. Shows whose link it is and the policy, or why the
//! link cannot be used; posts to `/auth/set-password`.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::backend::PasswordProblem;
use crate::components::shell::{use_lang, ErrorBox, LangSwitch};
use crate::i18n::Strings;
use crate::mail::check_link;

/// The policy, as a list.
#[component]
pub fn PolicyList() -> impl IntoView {
    let t = use_lang().t();
    view! {
        <div class="policy" id="password-policy">
            <p>{t.policy_title}</p>
            <ul>
                <li>{t.policy_length}</li>
                <li>{t.policy_strength}</li>
                <li>{t.policy_address}</li>
            </ul>
            <p class="muted">{t.policy_tip}</p>
        </div>
    }
}

/// The problems named in `?e=` (comma-separated codes).
pub fn problems_from_query(e: &str, t: &'static Strings) -> Vec<&'static str> {
    e.split(',')
        .filter_map(|c| {
            if c == "unavailable" {
                Some(t.unavailable)
            } else if c == "throttled" {
                Some(t.login_throttled)
            } else {
                PasswordProblem::from_code(c).map(|p| t.problem(&p))
            }
        })
        .collect()
}

#[component]
pub fn SetPasswordPage() -> impl IntoView {
    let t = use_lang().t();
    let q = use_query_map();
    let token = q.with_untracked(|q| q.get("t")).unwrap_or_default();
    let problems = problems_from_query(&q.with_untracked(|q| q.get("e")).unwrap_or_default(), t);
    let tok = token.clone();
    let link = Resource::new(move || tok.clone(), check_link);
    view! {
        <header class="topbar">
            <span class="brand">"Continuity"</span>
            <LangSwitch/>
        </header>
        <main id="content" class="narrow">
            <h1>{t.set_password_title}</h1>
            <Suspense fallback=|| view! { <p>"…"</p> }>
                {move || {
                    let token = token.clone();
                    let problems = problems.clone();
                    Suspend::new(async move {
                        match link.await {
                            Ok(Ok(address)) => view! {
                                <p class="lede">{t.set_password_intro}</p>
                                <p><strong id="link-address">{address}</strong></p>
                                <PolicyList/>
                                {(!problems.is_empty()).then(|| view! {
                                    <ul class="alert error" role="alert" id="password-problems">
                                        {problems.iter().map(|p| view! { <li>{*p}</li> }).collect_view()}
                                    </ul>
                                })}
                                <form method="post" action="/auth/set-password" class="stack">
                                    <input type="hidden" name="t" value=token/>
                                    <label>
                                        {t.new_password}
                                        <input type="password" name="password" required minlength="12"
                                            autocomplete="new-password"/>
                                    </label>
                                    <label>
                                        {t.confirm_password}
                                        <input type="password" name="confirm" required minlength="12"
                                            autocomplete="new-password"/>
                                    </label>
                                    <button type="submit" class="primary">{t.save_password}</button>
                                </form>
                            }.into_any(),
                            Ok(Err(p)) => view! {
                                <p class="alert error" role="alert" id="link-problem">{t.link_problem(p)}</p>
                            }.into_any(),
                            Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                        }
                    })
                }}
            </Suspense>
        </main>
    }
}
