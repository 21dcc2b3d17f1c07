//! The page for any address that is not a page (HTTP 404).

use leptos::prelude::*;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(resp) = use_context::<leptos_actix::ResponseOptions>() {
        resp.set_status(actix_web::http::StatusCode::NOT_FOUND);
    }
    view! {
        <h1>"Not found"</h1>
        <p class="notfound">"Page not found."</p>
        <p><a href="/">"Back to the start page"</a></p>
    }
}
