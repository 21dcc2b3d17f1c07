//! An account's security section — two-step login (TOTP, with its QR code
//! served by the server as an image), recovery codes, and a webmail user's
//! app passwords — on the webmail's Settings and the Control Panel's home;
//! and the login's second step (`/login/code`). Every change is a plain
//! form post (see the server's `web::security_forms`); secrets made there
//! come back once, under `?reveal=`.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::backend::{AppPasswordView, SecurityView};
use crate::components::shell::{use_lang, LangSwitch};
use crate::i18n::{long_date, Lang, TzOffset};

/// Whose section: where its forms post and what it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecuritySide {
    User,
    Admin,
}

impl SecuritySide {
    fn base(self) -> &'static str {
        match self {
            SecuritySide::User => "/settings/security",
            SecuritySide::Admin => "/admin/security",
        }
    }
}

/// The section: loads the account's view, then shows it.
#[component]
pub fn SecuritySection(side: SecuritySide) -> impl IntoView {
    let q = use_query_map();
    let reveal = q.with_untracked(|q| q.get("reveal")).unwrap_or_default();
    let view = Resource::new(
        move || reveal.clone(),
        move |reveal| async move {
            match side {
                SecuritySide::User => crate::mail::get_security(reveal).await,
                SecuritySide::Admin => crate::admin::get_admin_security(reveal).await,
            }
        },
    );
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                view.await.ok().map(|v| view! { <Security side v/> })
            })}
        </Suspense>
    }
}

/// What `?done=` and `?e=` say.
fn outcome(lang: Lang, done: &str, e: &str) -> (Option<&'static str>, Option<String>) {
    let s = lang.sec();
    let done = match done {
        "on" => Some(s.done_on),
        "off" => Some(s.done_off),
        "codes" => Some(s.done_codes),
        "cancelled" => Some(s.done_cancelled),
        "app" => Some(s.done_app),
        "revoked" => Some(s.done_revoked),
        _ => None,
    };
    let error = match e {
        "wrong" => Some(s.e_wrong),
        "expired" => Some(s.e_expired),
        "already" => Some(s.e_already),
        "password" => Some(s.e_password),
        "throttled" => Some(s.e_throttled),
        "name" => Some(s.e_name),
        "gone" => Some(s.e_gone),
        "required" => Some(s.e_required),
        "unavailable" => Some(s.e_unavailable),
        _ => None,
    };
    (done, error.map(str::to_string))
}

#[component]
fn Security(side: SecuritySide, v: SecurityView) -> impl IntoView {
    let lang = use_lang();
    let s = lang.sec();
    let t = lang.t();
    let q = use_query_map();
    let get = move |k: &str| q.with_untracked(|q| q.get(k)).unwrap_or_default();
    let (done, error) = outcome(lang, &get("done"), &get("e"));
    let base = side.base();
    let csrf = v.csrf.clone();
    let hidden = move || view! { <input type="hidden" name="csrf" value=csrf.clone()/> };
    let state = if v.on {
        let hidden = hidden.clone();
        view! {
            <p id="two-step-state" data-on="true">{s.status_on}</p>
            <p>{s.codes_left}" "<span id="codes-left">{v.codes_left}</span></p>
            <form method="post" action=format!("{base}/recovery")>
                {hidden()}
                <button type="submit" id="new-codes">{s.new_codes}</button>
            </form>
            <form method="post" action=format!("{base}/totp/off") class="stack">
                {hidden()}
                <p class="muted">{s.turn_off_note}</p>
                <label>
                    {t.password}
                    <input type="password" name="password" required autocomplete="current-password"/>
                </label>
                <div class="buttons"><button type="submit" id="two-step-off">{s.turn_off}</button></div>
            </form>
        }
        .into_any()
    } else if let Some(setup) = v.setup.clone() {
        let hidden = hidden.clone();
        view! {
            <p>{s.scan}</p>
            <img src=format!("{base}/qr.svg") alt=s.qr_alt width="200" height="200" class="qr"/>
            <p><code id="totp-secret" data-uri=setup.uri>{setup.secret}</code></p>
            <form method="post" action=format!("{base}/totp/confirm") class="stack">
                {hidden()}
                <label>
                    {s.app_code}
                    <input type="text" name="code" id="totp-code" required autocomplete="one-time-code"
                        inputmode="numeric" pattern="[0-9 ]{6,7}" maxlength="7"/>
                </label>
                <div class="buttons"><button type="submit" class="primary" id="totp-confirm">{s.confirm}</button></div>
            </form>
            <form method="post" action=format!("{base}/totp/cancel")>
                {hidden()}
                <button type="submit">{s.cancel}</button>
            </form>
        }
        .into_any()
    } else {
        let hidden = hidden.clone();
        view! {
            <p id="two-step-state" data-on="false">{s.intro_off}</p>
            <form method="post" action=format!("{base}/totp/begin")>
                {hidden()}
                <button type="submit" class="primary" id="two-step-on">{s.set_up}</button>
            </form>
        }
        .into_any()
    };
    let codes = (!v.new_codes.is_empty()).then(|| {
        view! {
            <div class="reveal" id="recovery-codes">
                <h3>{s.codes_title}</h3>
                <p>{s.codes_note}</p>
                <ul class="codes">
                    {v.new_codes.iter().map(|c| view! { <li><code>{c.clone()}</code></li> }).collect_view()}
                </ul>
            </div>
        }
    });
    let apps = v.app_passwords.clone().map(|list| {
        view! { <AppPasswords list new=v.new_app_password.clone() csrf=v.csrf.clone()/> }
    });
    view! {
        <section class="card" id="security">
            <h2>{s.title}</h2>
            {done.map(|d| view! { <p class="alert notice" role="status" id="security-done">{d}</p> })}
            {error.map(|e| view! { <p class="alert error" role="alert" id="security-error">{e}</p> })}
            {codes}
            {state}
        </section>
        {apps}
    }
}

#[component]
fn AppPasswords(
    list: Vec<AppPasswordView>,
    new: Option<crate::backend::NewAppPassword>,
    csrf: String,
) -> impl IntoView {
    let lang = use_lang();
    let s = lang.sec();
    let tz = use_context::<TzOffset>().unwrap_or_default();
    let rows = list
        .into_iter()
        .map(|a| {
            let used = match a.last_used_at {
                Some(at) => format!(
                    "{} {} {}{}",
                    long_date(at, tz, lang),
                    s.app_from,
                    a.last_used_ip.clone().unwrap_or_default(),
                    a.last_used_with
                        .as_deref()
                        .map(|w| format!(" ({})", if w == "imap" { "IMAP" } else { "SMTP" }))
                        .unwrap_or_default()
                ),
                None => s.app_never.to_string(),
            };
            view! {
                <tr data-app-password=a.name.clone()>
                    <td>{a.name.clone()}</td>
                    <td>{long_date(a.created_at, tz, lang)}</td>
                    <td class="used">{used}</td>
                    <td>
                        <form method="post" action=format!("/settings/security/app-passwords/{}/revoke", a.id)>
                            <input type="hidden" name="csrf" value=csrf.clone()/>
                            <button type="submit">{s.app_revoke}</button>
                        </form>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="card" id="app-passwords">
            <h2>{s.app_title}</h2>
            <p class="muted">{s.app_intro}</p>
            {new.map(|n| view! {
                <div class="reveal" id="new-app-password">
                    <p>{s.app_new}</p>
                    <dl>
                        <dt>{s.app_name}</dt><dd>{n.name}</dd>
                        <dt>"IMAP / SMTP"</dt><dd><code id="app-password">{n.secret}</code></dd>
                    </dl>
                </div>
            })}
            <table class="list">
                <thead><tr>
                    <th>{s.app_name}</th><th>{s.app_created}</th><th>{s.app_last_used}</th><th></th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
            <form method="post" action="/settings/security/app-passwords/new" class="stack">
                <input type="hidden" name="csrf" value=csrf.clone()/>
                <label>
                    {s.app_name}
                    <input type="text" name="name" id="app-name" required maxlength="60"/>
                </label>
                <div class="buttons"><button type="submit" id="app-create">{s.app_create}</button></div>
            </form>
        </section>
    }
}

/// `/login/code`: the login's second step.
#[component]
pub fn CodePage() -> impl IntoView {
    let lang = use_lang();
    let s = lang.sec();
    let q = use_query_map();
    let get = move |k: &str| q.with_untracked(|q| q.get(k)).unwrap_or_default();
    let error = match get("error").as_str() {
        "wrong" => Some(s.code_wrong),
        "throttled" => Some(s.code_throttled),
        "unavailable" => Some(lang.t().unavailable),
        _ => None,
    };
    let next = get("next");
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <header class="topbar">
            <span class="brand">"Continuity"</span>
            <LangSwitch/>
        </header>
        <main id="content" class="narrow">
            <h1 data-hydrated=move || hydrated.get().then_some("true")>{s.title}</h1>
            <p class="lede">{s.code_intro}</p>
            {error.map(|e| view! { <p class="alert error" role="alert" id="code-error">{e}</p> })}
            <form method="post" action="/auth/code" class="stack">
                <input type="hidden" name="next" value=next/>
                <label>
                    {s.code_label}
                    <input type="text" name="code" id="code" required autocomplete="one-time-code"
                        autocapitalize="off" spellcheck="false" maxlength="20" autofocus=true/>
                </label>
                <button type="submit" class="primary">{s.verify}</button>
            </form>
            <p><a href="/login">{s.start_again}</a></p>
        </main>
    }
}

/// `/login/enrol`: the second step of a login that must set a factor up
/// (its administrator requires one): the QR code, the key, the first code.
#[component]
pub fn EnrolPage() -> impl IntoView {
    let lang = use_lang();
    let s = lang.sec();
    let q = use_query_map();
    let get = move |k: &str| q.with_untracked(|q| q.get(k)).unwrap_or_default();
    let error = match get("error").as_str() {
        "wrong" => Some(s.e_wrong),
        "throttled" => Some(s.code_throttled),
        "unavailable" => Some(lang.t().unavailable),
        _ => None,
    };
    let next = get("next");
    let setup = Resource::new(|| (), |_| crate::mail::get_enrolment());
    view! {
        <header class="topbar">
            <span class="brand">"Continuity"</span>
            <LangSwitch/>
        </header>
        <main id="content" class="narrow">
            <h1>{s.title}</h1>
            <p class="lede">{s.enrol_intro}</p>
            {error.map(|e| view! { <p class="alert error" role="alert" id="code-error">{e}</p> })}
            <Suspense>
                {move || {
                    let next = next.clone();
                    Suspend::new(async move {
                        match setup.await.ok().flatten() {
                            None => view! {
                                <p class="alert error" role="alert" id="enrol-expired">{s.login_expired}</p>
                                <p><a href="/login">{s.start_again}</a></p>
                            }.into_any(),
                            Some(setup) => view! {
                                <p>{s.scan}</p>
                                <img src="/auth/enrol/qr.svg" alt=s.qr_alt width="200" height="200" class="qr"/>
                                <p><code id="totp-secret" data-uri=setup.uri>{setup.secret}</code></p>
                                <form method="post" action="/auth/enrol" class="stack">
                                    <input type="hidden" name="next" value=next/>
                                    <label>
                                        {s.app_code}
                                        <input type="text" name="code" id="totp-code" required autocomplete="one-time-code"
                                            inputmode="numeric" maxlength="7"/>
                                    </label>
                                    <button type="submit" class="primary" id="totp-confirm">{s.confirm}</button>
                                </form>
                            }.into_any(),
                        }
                    })
                }}
            </Suspense>
        </main>
    }
}

/// The Continuity Service page's setting: the domain's users must log in
/// with a second factor.
#[component]
pub fn UsersSecondFactor(base: String, csrf: String, required: bool) -> impl IntoView {
    let s = use_lang().sec();
    view! {
        <h3 id="users-second-factor">{s.cp_users_title}</h3>
        <form method="post" action=format!("{base}/second-factor") class="stack">
            <input type="hidden" name="csrf" value=csrf/>
            <label class="check">
                <input type="checkbox" name="required" value="on" id="users-second-factor-required" checked=required/>
                " "{s.cp_users_required}
            </label>
            <div class="buttons"><button type="submit" id="users-second-factor-save">{s.cp_users_save}</button></div>
        </form>
    }
}
