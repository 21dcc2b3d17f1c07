//! `GET /metrics` on its own listener (`[metrics] listen`): never the web
//! port, so what the metrics tell stays on the operators' network.

use std::net::TcpListener;

use actix_web::{web, App, HttpResponse, HttpServer};
use prometheus_client::encoding::prometheus_text;

use super::scrape::{refresh, Sources};
use super::METRICS;

struct State {
    sources: Sources,
    /// One scrape at a time: each clears and sets the scrape-time gauges.
    scraping: tokio::sync::Mutex<()>,
}

/// Serve `/metrics` on `listener` until the returned server is stopped.
pub fn serve(listener: TcpListener, sources: Sources) -> std::io::Result<actix_web::dev::Server> {
    let state = web::Data::new(State {
        sources,
        scraping: tokio::sync::Mutex::new(()),
    });
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route("/metrics", web::get().to(metrics))
            .default_service(web::to(|| async {
                HttpResponse::NotFound()
                    .content_type("text/plain; charset=utf-8")
                    .body("Not found: the metrics are at /metrics\n")
            }))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(2)
    .listen(listener)?
    .run())
}

async fn metrics(state: web::Data<State>) -> HttpResponse {
    let _one = state.scraping.lock().await;
    refresh(&METRICS.gauges, &state.sources).await;
    let mut body = String::with_capacity(16 * 1024);
    let encoded = prometheus_text::encode(&mut body, &METRICS.registry)
        .and_then(|()| prometheus_text::encode(&mut body, &METRICS.process));
    match encoded {
        Ok(()) => HttpResponse::Ok()
            .content_type(prometheus_text::CONTENT_TYPE)
            .insert_header(("Cache-Control", "no-store"))
            .body(body),
        Err(e) => {
            tracing::error!(error = %e, "metrics could not be encoded");
            HttpResponse::InternalServerError().finish()
        }
    }
}
