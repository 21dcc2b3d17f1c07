//! The web side: actix-web serving the Leptos app (SSR + hydration), its
//! static files, and the implementation of the UI's backend port.

use std::net::SocketAddr;
use std::path::Path;

use actix_files::Files;
use actix_web::{web, App, HttpServer};
use app::backend::{Backend, BackendError, DomainOverview, Overview, SharedBackend};
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_actix::{generate_route_list, LeptosRoutes};

use crate::store::Store;

/// The server's implementation of [`Backend`].
pub struct StoreBackend {
    pub store: Store,
    pub hostname: String,
}

fn unavailable(e: crate::store::StoreError) -> BackendError {
    tracing::error!(error = %e, "backend query failed");
    BackendError::Unavailable
}

#[async_trait::async_trait]
impl Backend for StoreBackend {
    async fn overview(&self) -> Result<Overview, BackendError> {
        let domains = self.store.domains().await.map_err(unavailable)?;
        let queue = self.store.queue_counts().await.map_err(unavailable)?;
        let find = |d: Option<crate::store::DomainId>| {
            queue
                .iter()
                .find(|(k, _)| *k == d)
                .map(|(_, c)| c.clone())
                .unwrap_or_default()
        };
        let mut out = Vec::with_capacity(domains.len());
        for d in domains {
            let users = self.store.users(d.id).await.map_err(unavailable)?.len() as i64;
            out.push(DomainOverview {
                primary: format!(
                    "{}:{} ({})",
                    d.primary_host,
                    d.primary_port,
                    d.primary_tls.as_str()
                ),
                name: d.name,
                users,
                queue: find(Some(d.id)),
            });
        }
        Ok(Overview {
            hostname: self.hostname.clone(),
            messages: self.store.message_count().await.map_err(unavailable)?,
            domains: out,
            outbound: find(None),
        })
    }
}

/// Leptos options built from our configuration (no Cargo.toml needed at run time).
pub fn leptos_options(site_root: &Path, addr: SocketAddr) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("continuity")
        .site_root(site_root.display().to_string())
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .build()
}

/// Bind the web listener (so a taken port fails at start, not later).
pub fn bind(
    listener: std::net::TcpListener,
    site_root: &Path,
    backend: SharedBackend,
) -> std::io::Result<actix_web::dev::Server> {
    let addr = listener.local_addr()?;
    let options = leptos_options(site_root, addr);
    let server = HttpServer::new(move || {
        let routes = generate_route_list(app::App);
        let site_root = options.site_root.to_string();
        let backend = backend.clone();
        let opts = options.clone();
        App::new()
            .wrap(
                actix_web::middleware::DefaultHeaders::new()
                    .add(("X-Content-Type-Options", "nosniff"))
                    .add(("Referrer-Policy", "no-referrer"))
                    .add(("X-Frame-Options", "DENY")),
            )
            .service(Files::new("/pkg", format!("{site_root}/pkg")))
            .service(Files::new("/assets", &site_root))
            .leptos_routes_with_context(
                routes,
                move || provide_context(backend.clone()),
                move || app::shell(opts.clone()),
            )
            .app_data(web::Data::new(options.clone()))
    })
    .workers(2)
    .disable_signals()
    .shutdown_timeout(5)
    .listen(listener)?
    .run();
    Ok(server)
}
