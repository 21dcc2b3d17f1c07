//! The browser's half of the passkey ceremonies (hydrated pages only):
//! ask the server for the options, hand them to `navigator.credentials`
//! (the browser shows its own dialogue: unlock the device, touch the
//! key), send the answer back, and go where the server says — the
//! security section or the page after login, with what happened in its
//! query, as the forms' redirects do.
//!
//! The options and answers are the WebAuthn JSON forms
//! (`PublicKeyCredential.parseCreationOptionsFromJSON`, `toJSON`), so no
//! bytes are converted here.

use js_sys::{Function, Object, Promise, Reflect, JSON};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Whether this browser can run a ceremony.
pub fn supported() -> bool {
    let global = js_sys::global();
    Reflect::get(&global, &"PublicKeyCredential".into())
        .ok()
        .and_then(|pkc| Reflect::get(&pkc, &"parseRequestOptionsFromJSON".into()).ok())
        .is_some_and(|f| f.is_function())
}

/// POST `url` with `body` (JSON) and the CSRF header: the answer's JSON.
async fn post(url: &str, csrf: &str, body: &str) -> Result<JsValue, JsValue> {
    let window = web_sys::window().ok_or("no window")?;
    let headers = web_sys::Headers::new()?;
    headers.set("Content-Type", "application/json")?;
    if !csrf.is_empty() {
        headers.set("X-CSRF-Token", csrf)?;
    }
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_headers(&headers);
    init.set_body(&JsValue::from_str(body));
    let resp: web_sys::Response = JsFuture::from(window.fetch_with_str_and_init(url, &init))
        .await?
        .dyn_into()?;
    if !resp.ok() {
        return Err(JsValue::from_str("refused"));
    }
    JsFuture::from(resp.json()?).await
}

/// `obj[name](arg)`, awaited when it gives a promise.
async fn call(obj: &JsValue, name: &str, arg: Option<&JsValue>) -> Result<JsValue, JsValue> {
    let f: Function = Reflect::get(obj, &name.into())?.dyn_into()?;
    let out = match arg {
        Some(a) => f.call1(obj, a)?,
        None => f.call0(obj)?,
    };
    match out.dyn_into::<Promise>() {
        Ok(p) => JsFuture::from(p).await,
        Err(v) => Ok(v),
    }
}

/// The server's `next`, if its answer has one.
fn next_of(answer: &JsValue) -> Option<String> {
    Reflect::get(answer, &"next".into()).ok()?.as_string()
}

/// One ceremony: options from `options_url`, the browser's credential
/// (`create` or `get`), posted to `finish_url` inside `wrap` (the body
/// with the credential under "credential"). Where to go next, or `None`
/// when the browser refused or the server could not be reached.
async fn ceremony(
    options_url: &str,
    finish_url: &str,
    csrf: &str,
    create: bool,
    wrap: Object,
) -> Result<String, JsValue> {
    let answer = post(options_url, csrf, "{}").await?;
    if let Some(next) = next_of(&answer) {
        return Ok(next);
    }
    let options = Reflect::get(&answer, &"options".into())?;
    let public_key = Reflect::get(&options, &"publicKey".into())?;
    let pkc = Reflect::get(&js_sys::global(), &"PublicKeyCredential".into())?;
    let parse = if create {
        "parseCreationOptionsFromJSON"
    } else {
        "parseRequestOptionsFromJSON"
    };
    let public_key = call(&pkc, parse, Some(&public_key)).await?;
    let request = Object::new();
    Reflect::set(&request, &"publicKey".into(), &public_key)?;
    let window = web_sys::window().ok_or("no window")?;
    let navigator = Reflect::get(&window, &"navigator".into())?;
    let credentials = Reflect::get(&navigator, &"credentials".into())?;
    let credential = call(
        &credentials,
        if create { "create" } else { "get" },
        Some(&request),
    )
    .await?;
    let credential = call(&credential, "toJSON", None).await?;
    Reflect::set(&wrap, &"credential".into(), &credential)?;
    let body = JSON::stringify(&wrap)?
        .as_string()
        .ok_or("not serialisable")?;
    let done = post(finish_url, csrf, &body).await?;
    next_of(&done).ok_or_else(|| JsValue::from_str("no next"))
}

fn go(to: &str) {
    if let Some(w) = web_sys::window() {
        let _ = w.location().set_href(to);
    }
}

/// Register a passkey named `name` for the section at `base`
/// (`/settings/security` or `/admin/security`); then go to the section.
pub async fn register(base: String, csrf: String, name: String) {
    let wrap = Object::new();
    let _ = Reflect::set(&wrap, &"name".into(), &JsValue::from_str(&name));
    let back = format!("{}?e=passkey#security", base.trim_end_matches("/security"));
    match ceremony(
        &format!("{base}/passkeys/options"),
        &format!("{base}/passkeys/register"),
        &csrf,
        true,
        wrap,
    )
    .await
    {
        Ok(next) => go(&next),
        Err(_) => go(&back),
    }
}

/// Set up the first factor of a login that must have one with a passkey
/// named `name`; then go to the security section (its recovery codes).
pub async fn enrol(name: String, next: String) {
    let wrap = Object::new();
    let _ = Reflect::set(&wrap, &"name".into(), &JsValue::from_str(&name));
    let _ = Reflect::set(&wrap, &"next".into(), &JsValue::from_str(&next));
    let enc: String = js_sys::encode_uri_component(&next).into();
    match ceremony(
        &format!("/auth/enrol/passkey/options?next={enc}"),
        "/auth/enrol/passkey",
        "",
        true,
        wrap,
    )
    .await
    {
        Ok(to) => go(&to),
        Err(_) => go(&format!("/login/enrol?error=passkey&next={enc}")),
    }
}

/// Finish a login's second step with a passkey; then go on (`next`: the
/// page asked for after login).
pub async fn login(next: String) {
    let wrap = Object::new();
    let _ = Reflect::set(&wrap, &"next".into(), &JsValue::from_str(&next));
    let enc: String = js_sys::encode_uri_component(&next).into();
    match ceremony(
        &format!("/auth/passkey/options?next={enc}"),
        "/auth/passkey",
        "",
        false,
        wrap,
    )
    .await
    {
        Ok(to) => go(&to),
        Err(_) => go(&format!("/login/code?error=passkey&next={enc}")),
    }
}
