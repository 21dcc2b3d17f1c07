//! Shared by the Control Panel tests: two domains (example.test with
//! alice, bob, carol; other.test with dave), an operator, a domain admin of
//! example.test, and the web app over them.

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use server::auth::Auth;
use server::config::TlsMode;
use server::store::{DomainId, Store};

pub const PW: &str = "velvet-harbor-Quokka-87";

pub struct Setup {
    pub store: Store,
    pub auth: Arc<Auth>,
    /// The clock sessions, links and shown-once secrets are judged by: it
    /// stands still until a test moves it.
    pub clock: server::auth::Clock,
    pub example: DomainId,
    pub other: DomainId,
}

pub async fn setup(tag: &str) -> Setup {
    setup_with(tag, &[]).await
}

/// [`setup`] with more settings (`CONTINUITY_…` variables).
pub async fn setup_with(tag: &str, settings: &[(&str, &str)]) -> Setup {
    let dir = super::temp_dir(tag);
    let store = server::store::testing::open(&dir).await.expect("store");
    let example = store
        .add_domain("example.test", "127.0.0.1", 2526, TlsMode::None)
        .await
        .expect("domain")
        .id;
    let other = store
        .add_domain("other.test", "127.0.0.1", 2527, TlsMode::None)
        .await
        .expect("domain")
        .id;
    for (a, aliases) in [
        (
            "alice@example.test",
            vec!["a.martin@example.test".to_string()],
        ),
        ("bob@example.test", vec![]),
        ("carol@example.test", vec![]),
        ("dave@other.test", vec![]),
    ] {
        store.add_user(a, "", &aliases, "ldap").await.expect("user");
    }
    let mut env = vec![(
        "CONTINUITY_SERVER_DATA_DIR".to_string(),
        dir.display().to_string(),
    )];
    env.extend(settings.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let wc = server::config::Config::load(None, env).expect("config").web;
    let clock = server::auth::Clock::manual(server::store::now_ms());
    let auth = Arc::new(
        Auth::new(store.clone(), &wc)
            .await
            .expect("auth")
            .with_clock(clock.clone()),
    );
    let hash = server::auth::password::hash(PW).expect("hash");
    store
        .add_admin("ops@provider.test", "Ops", true, &[], &hash)
        .await
        .expect("operator");
    store
        .add_admin("admin@example.test", "", false, &[example], &hash)
        .await
        .expect("domain admin");
    auth.set_password("alice@example.test", PW)
        .await
        .expect("alice pw");
    Setup {
        store,
        auth,
        clock,
        example,
        other,
    }
}

pub async fn app(
    s: &Setup,
) -> impl Service<
    actix_http::Request,
    Response = ServiceResponse<impl MessageBody>,
    Error = actix_web::Error,
> {
    super::web_app(&s.store, &s.auth).await
}

pub fn location<B>(r: &ServiceResponse<B>) -> String {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// Log in through the real form and return the session cookie (`name`:
/// "continuity" for users, "continuity-admin" for administrators).
pub async fn login<S, B>(svc: &S, address: &str, name: &str) -> actix_web::cookie::Cookie<'static>
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let req = actix_web::test::TestRequest::post()
        .uri("/auth/login")
        .peer_addr("127.0.0.1:1".parse().expect("addr"))
        .set_form([("address", address), ("password", PW)])
        .to_request();
    let r = actix_web::test::call_service(svc, req).await;
    r.response()
        .cookies()
        .find(|c| c.name() == name)
        .expect("session cookie")
        .into_owned()
}
