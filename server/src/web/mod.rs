//! The web side: actix-web serving the Leptos app (SSR + hydration), its
//! static files, the webmail's form posts and downloads, and the
//! implementation of the UI's backend port.
//!
//! - [`gate`]: middleware on every request (cross-site refusal, the
//!   client's address, session, language, security headers);
//! - [`client_ip`]: the client's address behind trusted reverse proxies;
//! - [`forms`]: login, logout, set/change password, read/unread, language,
//!   and the downloads (raw .eml, attachments, inline images, the sanitized
//!   HTML body for its sandboxed frame);
//! - [`admin_forms`]: the Control Panel's changes (Continuity Service on/off,
//!   scope, selected users), each checked for role, domain and CSRF;
//! - [`directory_forms`]: the Control Panel's directory sync (settings,
//!   test, sync now);
//! - [`outbound_admin`]: the Control Panel's outbound page (DKIM keys and
//!   their DNS records, the domain's server relaying through us);
//! - [`api`]: the JSON admin API under /api/admin (bearer tokens);
//! - [`backend`]: [`StoreBackend`], what server functions call;
//! - [`compose_web`]: the compose form's starting point and `POST /mail/send`
//!   (send, drafts, attachments); [`compose_form`] reads that form
//!   (urlencoded or multipart, with limits);
//! - [`tracking`]: Live Tracking's filters and scopes, the CSV export,
//!   .eml download and redelivery;
//! - [`folder_forms`]: the webmail's own folders (make, rename, delete,
//!   move a message into one).
//! - [`trash_forms`]: the webmail's trash (delete, restore, delete for
//!   good, empty) and discarding a draft;
//! - [`security_forms`]: the login's second step, and each account's
//!   second factor (TOTP, recovery codes) and a user's app passwords;
//! - [`notify_forms`]: a user's contact points (Settings, the link that
//!   proves a backup address) and the Control Panel's notices panel;
//! - [`render`] and [`sanitize`]: reading a stored message (pure).

pub mod admin_forms;
pub mod admin_views;
pub mod api;
pub mod assets;
pub mod backend;
pub mod client_ip;
pub mod compose_form;
pub mod compose_web;
pub mod directory_forms;
pub mod downloads;
pub mod encoding;
pub mod folder_forms;
pub mod forms;
pub mod gate;
mod health;
pub mod mail_views;
pub mod monitoring_forms;
pub mod notify_forms;
pub mod outbound_admin;
pub mod passkey_forms;
pub mod render;
pub mod sanitize;
pub mod second_step;
pub mod security_forms;
pub mod tracking;
pub mod trash_forms;
pub mod webhook_forms;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use actix_files::Files;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpMessage, HttpServer};
use app::backend::{AdminSession, SessionUser, SharedBackend};
use app::i18n::{Lang, TzOffset};
use leptos::config::LeptosOptions;
use leptos::prelude::{provide_context, use_context};
use leptos_actix::{generate_route_list, LeptosRoutes};

use crate::auth::Auth;
use crate::store::Store;
pub use backend::StoreBackend;

/// What every web worker shares.
#[derive(Clone)]
pub struct WebState {
    pub store: Store,
    pub auth: Arc<Auth>,
    pub backend: SharedBackend,
    pub options: LeptosOptions,
    /// Our name (EHLO of the connection test, sender of invitations).
    pub hostname: String,
    /// How the webmail sends (the sender's own copy for their primary, the
    /// sending limit; counts shared with the submission listeners).
    pub relay: crate::relay::RelayOptions,
    /// How mail leaves, for the Control Panel's outbound page.
    pub outbound: OutboundFacts,
    /// Reverse proxies whose forwarding headers name the client.
    pub trusted_proxies: Arc<Vec<ipnet::IpNet>>,
    /// What a user may keep in the webmail.
    pub quotas: Quotas,
    /// The node's listeners, for `GET /readyz`.
    pub health: Arc<crate::health::Health>,
    /// The front's files by version (`assets.rs`).
    pub assets: Arc<assets::Assets>,
    /// Users told of starts and ends: the Control Panel's resend, the SMS
    /// gateway that proves a mobile.
    pub notifier: Arc<crate::notify::Notifier>,
}

/// What a user may keep in the webmail (`web.max_drafts`,
/// `web.draft_files_quota`; the sending limit is the relay's).
#[derive(Debug, Clone, Copy)]
pub struct Quotas {
    pub max_drafts: u32,
    pub draft_files: usize,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            max_drafts: 500,
            draft_files: 200 << 20,
        }
    }
}

/// What the Control Panel shows of how mail leaves (facts of the
/// configuration, read-only there).
#[derive(Debug, Clone, Default)]
pub struct OutboundFacts {
    /// "host:port" of the smarthost, "direct" (each recipient's MX), or
    /// empty (nothing leaves).
    pub route: String,
    /// The submission listener's addresses (empty: it is off).
    pub submission: Vec<std::net::SocketAddr>,
    /// DNS servers for checking a DKIM record (empty: the system's).
    pub nameservers: Vec<std::net::SocketAddr>,
}

/// Leptos options built from our configuration (no Cargo.toml needed at
/// run time); pages link the front's files under `assets`' version.
pub fn leptos_options(
    site_root: &Path,
    addr: SocketAddr,
    assets: &assets::Assets,
) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("continuity")
        .site_root(site_root.display().to_string())
        .site_pkg_dir(assets.pkg_dir())
        .site_addr(addr)
        .build()
}

/// The page's Content-Security-Policy: scripts only from us (the inline
/// hydration script carries the per-response nonce), frames only ours (the
/// message body), no plugins, no foreign form targets.
fn page_csp(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-src 'self'; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'self'"
    )
}

/// Context every page render and server function gets: the backend, the
/// session resolved by [`gate::gate`], the language and time zone, and the
/// CSP nonce (with its header).
fn request_context(backend: SharedBackend) -> impl Fn() + Clone + Send + 'static {
    move || {
        provide_context(backend.clone());
        let req = use_context::<leptos_actix::Request>();
        let (user, admin, lang, tz) = match &req {
            Some(r) => {
                let ext = r.extensions();
                (
                    ext.get::<Option<SessionUser>>().cloned().flatten(),
                    ext.get::<Option<AdminSession>>().cloned().flatten(),
                    ext.get::<Lang>().copied().unwrap_or_default(),
                    ext.get::<TzOffset>().copied().unwrap_or_default(),
                )
            }
            None => (None, None, Lang::default(), TzOffset::default()),
        };
        provide_context(user);
        provide_context(admin);
        provide_context(lang);
        provide_context(tz);
        // leptos_actix provides a nonce for page renders; the header must carry it
        if leptos::nonce::use_nonce().is_none() {
            leptos::nonce::provide_nonce();
        }
        if let (Some(nonce), Some(res)) = (
            leptos::nonce::use_nonce(),
            use_context::<leptos_actix::ResponseOptions>(),
        ) {
            if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&page_csp(&nonce)) {
                res.insert_header(actix_web::http::header::CONTENT_SECURITY_POLICY, v);
            }
        }
    }
}

/// Register every route (also used by the in-process tests).
pub fn configure(state: WebState) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg: &mut web::ServiceConfig| {
        let routes = generate_route_list(app::App);
        let site_root = state.options.site_root.to_string();
        let opts = state.options.clone();
        cfg.app_data(web::Data::new(state.clone()))
            .app_data(web::Data::new(state.options.clone()))
            .app_data(web::FormConfig::default().limit(64 * 1024))
            .app_data(web::Data::from(state.assets.clone()))
            .service(
                web::resource("/pkg/{version}/{file}")
                    .route(web::get().to(assets::serve))
                    .route(web::head().to(assets::serve)),
            )
            .service(Files::new("/pkg", format!("{site_root}/pkg")))
            .service(Files::new("/assets", &site_root))
            .configure(api::configure)
            .route("/healthz", web::get().to(health::healthz))
            .route("/readyz", web::get().to(health::readyz))
            .route("/auth/login", web::post().to(forms::login))
            .route("/auth/logout", web::post().to(forms::logout))
            .route("/auth/code", web::post().to(second_step::code))
            .route("/auth/enrol", web::post().to(second_step::enrol))
            .route(
                "/auth/passkey/options",
                web::post().to(passkey_forms::login_options),
            )
            .route("/auth/passkey", web::post().to(passkey_forms::login))
            .route(
                "/auth/enrol/passkey/options",
                web::post().to(passkey_forms::enrol_options),
            )
            .route("/auth/enrol/passkey", web::post().to(passkey_forms::enrol))
            .route(
                "/settings/security/passkeys/options",
                web::post().to(passkey_forms::user_options),
            )
            .route(
                "/settings/security/passkeys/register",
                web::post().to(passkey_forms::user_register),
            )
            .route(
                "/settings/security/passkeys/{id}/remove",
                web::post().to(passkey_forms::user_remove),
            )
            .route(
                "/admin/security/passkeys/options",
                web::post().to(passkey_forms::admin_options),
            )
            .route(
                "/admin/security/passkeys/register",
                web::post().to(passkey_forms::admin_register),
            )
            .route(
                "/admin/security/passkeys/{id}/remove",
                web::post().to(passkey_forms::admin_remove),
            )
            .route("/auth/enrol/qr.svg", web::get().to(second_step::enrol_qr))
            .route(
                "/admin/d/{domain}/continuity/second-factor",
                web::post().to(security_forms::require_for_users),
            )
            .route(
                "/settings/security/qr.svg",
                web::get().to(security_forms::user_qr),
            )
            .route(
                "/settings/security/app-passwords/{id}/revoke",
                web::post().to(security_forms::revoke_app_password),
            )
            .route(
                "/settings/security/{action:.+}",
                web::post().to(security_forms::user_action),
            )
            .route(
                "/settings/contacts/email",
                web::post().to(notify_forms::set_email),
            )
            .route(
                "/settings/contacts/mobile",
                web::post().to(notify_forms::set_mobile),
            )
            .route(
                "/settings/contacts/mobile/confirm",
                web::post().to(notify_forms::confirm_mobile),
            )
            .route("/contacts/verify", web::get().to(notify_forms::verify))
            .route(
                "/admin/d/{domain}/continuity/notify",
                web::post().to(notify_forms::settings),
            )
            .route(
                "/admin/d/{domain}/continuity/notify/resend",
                web::post().to(notify_forms::resend),
            )
            .route(
                "/admin/security/qr.svg",
                web::get().to(security_forms::admin_qr),
            )
            .route(
                "/admin/security/{action:.+}",
                web::post().to(security_forms::admin_action),
            )
            .route("/auth/set-password", web::post().to(forms::set_password))
            .route("/settings/password", web::post().to(forms::change_password))
            .route("/lang/{code}", web::get().to(forms::set_lang))
            .route("/mail/m/{id}/seen", web::post().to(forms::set_seen))
            .route("/mail/m/{id}/trash", web::post().to(trash_forms::trash))
            .route(
                "/mail/m/{id}/move",
                web::post().to(folder_forms::move_entry),
            )
            .route("/mail/folders/create", web::post().to(folder_forms::create))
            .route(
                "/mail/folders/{id}/rename",
                web::post().to(folder_forms::rename),
            )
            .route(
                "/mail/folders/{id}/delete",
                web::post().to(folder_forms::delete),
            )
            .route("/mail/m/{id}/restore", web::post().to(trash_forms::restore))
            .route("/mail/m/{id}/delete", web::post().to(trash_forms::delete))
            .route("/mail/trash/empty", web::post().to(trash_forms::empty))
            .route(
                "/mail/drafts/{id}/discard",
                web::post().to(trash_forms::discard_draft),
            )
            .service(
                web::resource("/mail/send")
                    // the body may be long (1 MiB) when posted without files
                    .app_data(web::FormConfig::default().limit(2 * 1024 * 1024))
                    .route(web::post().to(compose_web::send)),
            )
            .route("/mail/m/{id}/raw", web::get().to(downloads::raw))
            .route("/mail/m/{id}/body", web::get().to(downloads::body))
            .route("/mail/m/{id}/part/{n}", web::get().to(downloads::part))
            .route("/mail/m/{id}/cid/{cid}", web::get().to(downloads::cid))
            .route("/admin/logout", web::post().to(admin_forms::logout))
            .route(
                "/admin/d/{domain}/outbound/dkim/new",
                web::post().to(outbound_admin::new_key),
            )
            .route(
                "/admin/d/{domain}/outbound/dkim/use",
                web::post().to(outbound_admin::use_key),
            )
            .route(
                "/admin/d/{domain}/outbound/dkim/off",
                web::post().to(outbound_admin::signing_off),
            )
            .route(
                "/admin/d/{domain}/outbound/dkim/delete",
                web::post().to(outbound_admin::delete_key),
            )
            .route(
                "/admin/d/{domain}/outbound/dkim/check",
                web::post().to(outbound_admin::check_key),
            )
            .route(
                "/admin/d/{domain}/outbound/networks",
                web::post().to(outbound_admin::networks),
            )
            .route(
                "/admin/d/{domain}/outbound/secret",
                web::post().to(outbound_admin::secret),
            )
            .route(
                "/admin/d/{domain}/directory/settings",
                web::post().to(directory_forms::settings),
            )
            .route(
                "/admin/d/{domain}/directory/test",
                web::post().to(directory_forms::test),
            )
            .route(
                "/admin/d/{domain}/directory/sync",
                web::post().to(directory_forms::sync),
            )
            .route("/admin/tracking.csv", web::get().to(tracking::export_csv))
            .route("/admin/tracking/m/{id}/raw", web::get().to(tracking::raw))
            .route(
                "/admin/tracking/d/{id}/redeliver",
                web::post().to(tracking::redeliver),
            )
            .route(
                "/admin/d/{domain}/continuity/enabled",
                web::post().to(admin_forms::set_enabled),
            )
            .route(
                "/admin/d/{domain}/continuity/scope",
                web::post().to(admin_forms::set_scope),
            )
            .route(
                "/admin/d/{domain}/continuity/users/add",
                web::post().to(admin_forms::add_user),
            )
            .route(
                "/admin/d/{domain}/continuity/users/{user}/remove",
                web::post().to(admin_forms::remove_user),
            )
            .route(
                "/admin/d/{domain}/continuity/emergency",
                web::post().to(admin_forms::set_emergency),
            )
            .route(
                "/admin/d/{domain}/continuity/emergency/{user}/{action}",
                web::post().to(admin_forms::emergency_user),
            )
            .route(
                "/admin/d/{domain}/continuity/primary",
                web::post().to(monitoring_forms::set_primary),
            )
            .route(
                "/admin/d/{domain}/continuity/state",
                web::post().to(monitoring_forms::change_state),
            )
            .route(
                "/admin/d/{domain}/continuity/webhook",
                web::post().to(webhook_forms::set_webhook),
            );
        cfg.leptos_routes_with_context(routes, request_context(state.backend.clone()), move || {
            app::shell(opts.clone())
        });
    }
}

/// Serve on the web listeners (bound by the caller, so a taken port fails
/// at start, not later): `plain` over HTTP, `tls` over HTTPS with `tls_config`;
/// `state.options` come from [`leptos_options`].
pub fn bind(
    plain: std::net::TcpListener,
    tls: Vec<std::net::TcpListener>,
    tls_config: Option<Arc<rustls::ServerConfig>>,
    state: WebState,
) -> std::io::Result<actix_web::dev::Server> {
    let mut server = HttpServer::new(move || {
        App::new()
            .wrap(from_fn(gate::gate))
            .wrap(from_fn(encoding::compress_pages))
            .configure(configure(state.clone()))
    })
    .workers(2)
    .disable_signals()
    .shutdown_timeout(5)
    .listen(plain)?;
    if let Some(config) = tls_config {
        // the service's certificate, speaking HTTP/1.1 (ALPN)
        let mut config = (*config).clone();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        for l in tls {
            server = server.listen_rustls_0_23(l, config.clone())?;
        }
    }
    Ok(server.run())
}
