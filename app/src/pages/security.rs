//! An account's security section — two-step login (TOTP, with its QR code
//! served by the server as an image), recovery codes, and a webmail user's
//! app passwords — on the webmail's Settings and the Control Panel's home;
//! and the login's second step (`/login/code`). Every change is a plain
//! form post (see the server's `web::security_forms`); secrets made there
//! come back once, under `?reveal=`.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::backend::{AppPasswordView, PasskeyView, SecurityView};
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
        "passkey" => Some(s.done_passkey),
        "passkey-removed" => Some(s.done_passkey_removed),
        "totp-removed" => Some(s.done_totp_removed),
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
        "passkey" => Some(s.e_passkey),
        "passkey-already" => Some(s.e_passkey_already),
        "passkey-last" => Some(s.e_passkey_last),
        "passkey-here" => Some(s.pk_not_here),
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
    // on: the status first, then each factor, then what ends them all
    let status = v.on.then(|| {
        view! {
            <p id="two-step-state" data-on="true">{s.status_on}</p>
            <p>{s.codes_left}" "<span id="codes-left">{v.codes_left}</span></p>
        }
    });
    let manage = v.on.then(|| {
        let hidden = hidden.clone();
        view! {
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
    });
    let totp = if v.totp_on && !v.passkeys.is_empty() {
        let hidden = hidden.clone();
        view! {
            <p id="totp-state">{s.totp_on}</p>
            <form method="post" action=format!("{base}/totp/remove")>
                {hidden()}
                <button type="submit" id="totp-remove">{s.totp_remove}</button>
            </form>
        }
        .into_any()
    } else if v.totp_on {
        view! { <p id="totp-state">{s.totp_on}</p> }.into_any()
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
    } else if v.on {
        let hidden = hidden.clone();
        view! {
            <form method="post" action=format!("{base}/totp/begin")>
                {hidden()}
                <button type="submit" id="totp-add">{s.totp_add}</button>
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
    let passkeys = view! {
        <Passkeys base list=v.passkeys.clone() here=v.passkeys_here csrf=v.csrf.clone()/>
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
            {status}
            {totp}
            {passkeys}
            {manage}
        </section>
        {apps}
    }
}

/// The account's passkeys: listed with their last use, removed one by
/// one, and a new one added by the browser's own dialogue.
#[component]
fn Passkeys(base: &'static str, list: Vec<PasskeyView>, here: bool, csrf: String) -> impl IntoView {
    let lang = use_lang();
    let s = lang.sec();
    let tz = use_context::<TzOffset>().unwrap_or_default();
    if !here {
        return view! {
            <div id="passkeys">
                <h3>{s.pk_title}</h3>
                <p class="muted" id="passkeys-not-here">{s.pk_not_here}</p>
            </div>
        }
        .into_any();
    }
    let rows = list
        .iter()
        .map(|p| {
            let used = match p.last_used_at {
                Some(at) => long_date(at, tz, lang),
                None => s.app_never.to_string(),
            };
            view! {
                <tr data-passkey=p.name.clone()>
                    <td>{p.name.clone()}</td>
                    <td>{long_date(p.created_at, tz, lang)}</td>
                    <td class="used">{used}</td>
                    <td>
                        <form method="post" action=format!("{base}/passkeys/{}/remove", p.id)>
                            <input type="hidden" name="csrf" value=csrf.clone()/>
                            <button type="submit">{s.pk_remove}</button>
                        </form>
                    </td>
                </tr>
            }
        })
        .collect_view();
    let table = (!list.is_empty()).then(|| {
        view! {
            <table class="list">
                <thead><tr>
                    <th>{s.pk_name}</th><th>{s.app_created}</th><th>{s.app_last_used}</th><th></th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
        }
    });
    // the ceremony runs in the browser: the button waits for the page's
    // script, and says so when the browser has no passkeys
    let ready = RwSignal::new(false);
    let unsupported = RwSignal::new(false);
    let working = RwSignal::new(false);
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        {
            let ok = crate::passkey::supported();
            ready.set(ok);
            unsupported.set(!ok);
        }
    });
    let name = NodeRef::<leptos::html::Input>::new();
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        working.set(true);
        #[cfg(feature = "hydrate")]
        {
            let typed = name.get().map(|i| i.value()).unwrap_or_default();
            let csrf = csrf.clone();
            leptos::task::spawn_local(crate::passkey::register(base.to_string(), csrf, typed));
        }
    };
    // right after an emailed link set the password: the offer
    let offered = use_query_map()
        .with_untracked(|q| q.get("offer"))
        .as_deref()
        == Some("passkey")
        && list.is_empty()
        && base == SecuritySide::User.base();
    let offer = offered.then(|| {
        view! {
            <p class="alert notice" role="status" id="passkey-offer">
                {s.link_passkey}" "<a href="/mail/inbox">{s.link_later}</a>
            </p>
        }
    });
    view! {
        <div id="passkeys">
            <h3>{s.pk_title}</h3>
            {offer}
            <p class="muted">{s.pk_intro}</p>
            {table}
            {list.is_empty().then(|| view! { <p id="passkeys-none">{s.pk_none}</p> })}
            <form class="stack" on:submit=add>
                <label>
                    {s.pk_name}
                    <input type="text" name="name" id="passkey-name" required maxlength="60" node_ref=name
                        autofocus=offered/>
                </label>
                <div class="buttons">
                    <button type="submit" id="passkey-add" disabled=move || !ready.get() || working.get()>{s.pk_add}</button>
                </div>
                <p class="muted" id="passkey-status" role="status">
                    {move || if working.get() { s.pk_working } else if unsupported.get() { s.pk_no_browser } else { "" }}
                </p>
            </form>
        </div>
    }
    .into_any()
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
        "passkey" => Some(s.code_passkey_wrong),
        "nopasskey" => Some(s.code_no_passkey),
        _ => None,
    };
    let next = get("next");
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let step = Resource::new(|| (), |_| crate::mail::get_second_step());
    let working = RwSignal::new(false);
    let passkey_next = next.clone();
    let use_passkey = move |_| {
        working.set(true);
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(crate::passkey::login(passkey_next.clone()));
        #[cfg(not(feature = "hydrate"))]
        let _ = &passkey_next;
    };
    let passkey = move || {
        let use_passkey = use_passkey.clone();
        Suspend::new(async move {
            step.await.ok().filter(|s| s.passkey).map(|_| {
                view! {
                    <div id="passkey-step" class="stack">
                        <div class="buttons">
                            <button type="button" class="primary" id="use-passkey" on:click=use_passkey
                                disabled=move || !hydrated.get() || working.get()>{s.use_passkey}</button>
                        </div>
                        <p class="muted" role="status">{move || if working.get() { s.pk_working } else { s.code_or }}</p>
                    </div>
                }
            })
        })
    };
    view! {
        <header class="topbar">
            <span class="brand">"Continuity"</span>
            <LangSwitch/>
        </header>
        <main id="content" class="narrow">
            <h1 data-hydrated=move || hydrated.get().then_some("true")>{s.title}</h1>
            <p class="lede">{s.code_intro}</p>
            {error.map(|e| view! { <p class="alert error" role="alert" id="code-error">{e}</p> })}
            <Suspense>{passkey}</Suspense>
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
        "passkey" => Some(s.e_passkey),
        "passkey-already" => Some(s.e_passkey_already),
        "name" => Some(s.e_name),
        _ => None,
    };
    let next = get("next");
    let setup = Resource::new(|| (), |_| crate::mail::get_enrolment());
    let step = Resource::new(|| (), |_| crate::mail::get_second_step());
    let passkey_next = next.clone();
    let passkey = move || {
        let next = passkey_next.clone();
        Suspend::new(async move {
            let waiting = setup.await.ok().flatten().is_some();
            step.await
                .ok()
                .filter(|s| waiting && s.passkeys_here)
                .map(|_| view! { <EnrolPasskey next/> })
        })
    };
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
            <Suspense>{passkey}</Suspense>
        </main>
    }
}

/// The set-up's other way: a passkey instead of an authenticator app.
#[component]
fn EnrolPasskey(next: String) -> impl IntoView {
    let s = use_lang().sec();
    let ready = RwSignal::new(false);
    let working = RwSignal::new(false);
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        ready.set(crate::passkey::supported());
    });
    let name = NodeRef::<leptos::html::Input>::new();
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        working.set(true);
        #[cfg(feature = "hydrate")]
        {
            let typed = name.get().map(|i| i.value()).unwrap_or_default();
            leptos::task::spawn_local(crate::passkey::enrol(typed, next.clone()));
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = &next;
    };
    view! {
        <h2 id="enrol-passkey">{s.enrol_passkey}</h2>
        <p class="muted">{s.pk_intro}</p>
        <form class="stack" on:submit=add>
            <label>
                {s.pk_name}
                <input type="text" name="name" id="passkey-name" required maxlength="60" node_ref=name/>
            </label>
            <div class="buttons">
                <button type="submit" id="passkey-add" disabled=move || !ready.get() || working.get()>{s.pk_add}</button>
            </div>
            <p class="muted" role="status">{move || if working.get() { s.pk_working } else { "" }}</p>
        </form>
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
