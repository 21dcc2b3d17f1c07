//! The page for any address that is not a page (HTTP 404).

use leptos::prelude::*;

use crate::components::shell::use_lang;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(resp) = use_context::<leptos_actix::ResponseOptions>() {
        resp.set_status(actix_web::http::StatusCode::NOT_FOUND);
    }
    let t = use_lang().t();
    view! {
        <main id="content" class="narrow">
            <h1>{t.not_found_title}</h1>
            <p class="notfound">{t.not_found_text}</p>
            <p><a href="/">"Continuity"</a></p>
        </main>
    }
}
