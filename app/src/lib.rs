//! Continuity's user interface (Leptos 0.8: SSR on the server, hydration in
//! the browser).
//!
//! What is here: the HTML shell, the router table ([`App`]), pages in
//! [`pages`], and the **backend port** in [`backend`]: the shared data types
//! and, for the server build only (`ssr`), the [`backend::Backend`] trait that
//! server functions call through context. What is not here: SQL, sockets,
//! SMTP — those live in the `server` crate, which implements the port. The
//! browser build (`hydrate`) compiles to WASM with none of that.

pub mod backend;
pub mod pages;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    SsrMode, StaticSegment, WildcardSegment,
};

/// The HTML document the server renders around [`App`].
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
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

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/continuity.css"/>
        <Title text="Continuity"/>
        <Router>
            <header class="topbar">
                <a class="brand" href="/">"Continuity"</a>
            </header>
            <main>
                <Routes fallback=pages::not_found::NotFound>
                    // Async: the whole page is rendered before it is sent, so
                    // it works with JavaScript off.
                    <Route path=StaticSegment("") view=pages::status::StatusPage ssr=SsrMode::Async/>
                    <Route path=WildcardSegment("any") view=pages::not_found::NotFound/>
                </Routes>
            </main>
        </Router>
    }
}

/// The WASM entry point: hydrate the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
