//! Continuity's user interface (Leptos 0.8: SSR on the server, hydration in
//! the browser).
//!
//! What is here: the HTML shell, the router table ([`App`]), pages in
//! [`pages`], and the **backend port** in [`backend`]: the shared data types
//! and, for the server build only (`ssr`), the [`backend::Backend`] trait that
//! server functions call through context. What is not here: SQL, sockets,
//! SMTP — those live in the `server` crate, which implements the port. The
//! browser build (`hydrate`) compiles to WASM with none of that.

pub mod admin;
pub mod backend;
pub mod components;
pub mod i18n;
pub mod mail;
pub mod pages;
#[cfg(feature = "hydrate")]
pub mod passkey;

use i18n::{Lang, TzOffset};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    lazy_route, path, Lazy, LazyRoute, SsrMode, WildcardSegment,
};

/// The HTML document the server renders around [`App`]. `<html lang>` and
/// `data-tzo` carry the server's choice of language and time zone to the
/// browser, which reads them back when it hydrates.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let lang = use_context::<Lang>().unwrap_or_default();
    let tz = use_context::<TzOffset>().unwrap_or_default();
    view! {
        <!DOCTYPE html>
        <html lang=lang.code() data-tzo=tz.0.to_string()>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                // under the build's version (the server's pkg dir): cached for a year
                <link rel="stylesheet" id="leptos" href=format!("/{}/continuity.css", options.site_pkg_dir)/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Language and time zone: from the server's context, or (in the browser)
/// from the attributes the server wrote on `<html>`.
fn provide_locale() {
    #[cfg(feature = "hydrate")]
    {
        let root = leptos::prelude::document().document_element();
        let attr = |name: &str| root.as_ref().and_then(|r| r.get_attribute(name));
        let lang = attr("lang")
            .and_then(|l| Lang::from_code(&l))
            .unwrap_or_default();
        let tz = attr("data-tzo")
            .and_then(|t| t.parse::<i32>().ok())
            .unwrap_or(0);
        provide_context(lang);
        provide_context(TzOffset(tz));
    }
    #[cfg(not(feature = "hydrate"))]
    {
        if use_context::<Lang>().is_none() {
            provide_context(Lang::default());
        }
        if use_context::<TzOffset>().is_none() {
            provide_context(TzOffset::default());
        }
    }
}

/// A page a first visit (the login page, then the inbox) does not need:
/// its code is a WASM chunk of its own (`cargo leptos build --split`),
/// fetched when the page is first shown.
macro_rules! lazy_page {
    ($name:ident, $($page:tt)+) => {
        struct $name;
        #[lazy_route]
        impl LazyRoute for $name {
            fn data() -> Self {
                $name
            }
            fn view(_this: Self) -> AnyView {
                view! { <$($page)+/> }.into_any()
            }
        }
    };
}

lazy_page!(AdminHomeRoute, pages::admin::AdminHome);
lazy_page!(ContinuityRoute, pages::admin::ContinuityPage);
lazy_page!(DirectoryRoute, pages::directory::DirectoryPage);
lazy_page!(OutboundRoute, pages::outbound::OutboundPage);
lazy_page!(AdminTrackingRoute, pages::tracking::AdminTrackingPage);
lazy_page!(MessageTrackRoute, pages::tracking::MessageTrackPage);
lazy_page!(MyTrackingRoute, pages::tracking::MyTrackingPage);
lazy_page!(ComposeRoute, pages::compose::ComposePage);
lazy_page!(SettingsRoute, pages::settings::SettingsPage);
lazy_page!(DraftsRoute, pages::drafts::DraftsPage);
lazy_page!(FoldersRoute, pages::folders::FoldersPage);
lazy_page!(StatusRoute, pages::status::StatusPage);
lazy_page!(SetPasswordRoute, pages::set_password::SetPasswordPage);
// the login's second step (and its passkey ceremony): only for accounts
// with two-step login, so not part of a first visit
lazy_page!(CodeRoute, pages::security::CodePage);
lazy_page!(EnrolRoute, pages::security::EnrolPage);

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_locale();
    view! {
        <Title text="Continuity"/>
        <Router>
            // Async: the whole page is rendered before it is sent, so every
            // page works with JavaScript off.
            <Routes fallback=pages::not_found::NotFound>
                <Route path=path!("") view=pages::login::Home ssr=SsrMode::Async/>
                <Route path=path!("login") view=pages::login::LoginPage ssr=SsrMode::Async/>
                <Route path=path!("login/code") view={Lazy::<CodeRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("login/enrol") view={Lazy::<EnrolRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("set-password") view={Lazy::<SetPasswordRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("mail/inbox") view=pages::mailbox::InboxPage ssr=SsrMode::Async/>
                <Route path=path!("mail/sent") view=pages::mailbox::SentPage ssr=SsrMode::Async/>
                <Route path=path!("mail/trash") view=pages::mailbox::TrashPage ssr=SsrMode::Async/>
                <Route path=path!("mail/drafts") view={Lazy::<DraftsRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("mail/folders") view={Lazy::<FoldersRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("mail/folder/:id") view=pages::mailbox::UserFolderPage ssr=SsrMode::Async/>
                <Route path=path!("mail/search") view=pages::mailbox::SearchPage ssr=SsrMode::Async/>
                <Route path=path!("mail/m/:id") view=pages::message::MessagePage ssr=SsrMode::Async/>
                <Route path=path!("mail/compose") view={Lazy::<ComposeRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("mail/tracking") view={Lazy::<MyTrackingRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("settings") view={Lazy::<SettingsRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("status") view={Lazy::<StatusRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("admin") view={Lazy::<AdminHomeRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("admin/d/:domain/continuity") view={Lazy::<ContinuityRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("admin/d/:domain/directory") view={Lazy::<DirectoryRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("admin/d/:domain/outbound") view={Lazy::<OutboundRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("admin/tracking") view={Lazy::<AdminTrackingRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("admin/tracking/m/:id") view={Lazy::<MessageTrackRoute>::new()} ssr=SsrMode::Async/>
                <Route path=WildcardSegment("any") view=pages::not_found::NotFound/>
            </Routes>
        </Router>
    }
}

/// The WASM entry point: hydrate the server-rendered page, and tell the
/// server the browser's UTC offset (a cookie) so dates show in local time.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    use leptos::web_sys::js_sys;
    console_error_panic_hook::set_once();
    let offset = -(js_sys::Date::new_0().get_timezone_offset() as i32);
    let cookie = format!("tzo={offset}; path=/; max-age=31536000; samesite=lax");
    let doc = leptos::prelude::document();
    let _ = js_sys::Reflect::set(doc.as_ref(), &"cookie".into(), &cookie.into());
    leptos::mount::hydrate_lazy(App);
}
