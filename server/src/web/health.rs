//! `GET /healthz` (the process answers) and `GET /readyz` (this node can
//! take its share: 200, or 503 with the reason), for load balancers and
//! orchestrators. Plain text, never cached, no session needed; they say
//! nothing a stranger could use.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use super::WebState;

pub async fn healthz() -> HttpResponse {
    plain(HttpResponse::Ok(), "ok\n".to_string())
}

pub async fn readyz(state: web::Data<WebState>) -> HttpResponse {
    match state.health.not_ready(&state.store).await {
        None => plain(HttpResponse::Ok(), "ready\n".to_string()),
        Some(why) => {
            tracing::warn!(reason = %why, "not ready");
            plain(
                HttpResponse::ServiceUnavailable(),
                format!("not ready: {why}\n"),
            )
        }
    }
}

fn plain(mut r: actix_web::HttpResponseBuilder, body: String) -> HttpResponse {
    r.insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}
