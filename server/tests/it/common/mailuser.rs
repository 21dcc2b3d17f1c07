//! Shared by the webmail tests: a store with example.test (alice, bob with
//! passwords; mail for alice, including a hostile HTML newsletter) and
//! other.test, the auth service, the web app over them, and login helpers.

use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::test::{self, TestRequest};
use server::auth::Auth;
use server::config::TlsMode;
use server::directory::RecipientPolicy;
use server::store::{NewMessage, NewRecipient, Origin, Store, Summary};

pub const PW: &str = "velvet-harbor-Quokka-87";

pub struct Setup {
    pub store: Store,
    pub auth: Arc<Auth>,
    pub alice_mail: i64,
    pub bob_mail: i64,
}

pub fn web_config(dir: &std::path::Path) -> server::config::WebConfig {
    let env = vec![(
        "CONTINUITY_SERVER_DATA_DIR".to_string(),
        dir.display().to_string(),
    )];
    server::config::Config::load(None, env).expect("config").web
}

pub async fn ingest(store: &Store, to: &str, raw: &[u8]) -> server::store::MessageId {
    let snap = store.directory_snapshot().await.expect("snapshot");
    let (domain, user) = match snap.check(to) {
        server::directory::RcptVerdict::Accept { domain, user } => (Some(domain), user),
        other => panic!("{to}: {other:?}"),
    };
    store
        .ingest(NewMessage {
            origin: Origin::Smtp,
            mail_from: "sender@remote.test".into(),
            client_ip: Some("192.0.2.1".into()),
            helo: Some("remote.test".into()),
            tls: false,
            summary: Summary::parse(raw),
            raw: raw.to_vec(),
            recipients: vec![NewRecipient {
                rcpt: to.into(),
                domain,
                user,
            }],
            in_reply_to: None,
            sign_as: None,
        })
        .await
        .expect("ingest")
}

pub const HTML_MAIL: &[u8] = b"From: News <news@remote.test>\r\nTo: alice@example.test\r\n\
Subject: Hostile\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/html\r\n\r\n<p>Hi</p><script>alert(1)</script>\
<img src=\"https://tracker.remote.test/p.gif\"><img src=\"cid:logo@x\">\r\n\
--b\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n\
--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"../r\xc3\xa9sum\xc3\xa9.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n";

pub async fn setup(tag: &str) -> Setup {
    let dir = super::temp_dir(tag);
    let store = server::store::testing::open(&dir).await.expect("store");
    store
        .add_domain("example.test", "127.0.0.1", 2526, TlsMode::None)
        .await
        .expect("domain");
    store
        .add_domain("other.test", "127.0.0.1", 2527, TlsMode::None)
        .await
        .expect("domain");
    store
        .add_user(
            "alice@example.test",
            "Alice",
            &["a.martin@example.test".into()],
            "local",
        )
        .await
        .expect("alice");
    store
        .add_user("bob@example.test", "Bob", &[], "ldap")
        .await
        .expect("bob");
    store
        .add_user("dave@other.test", "Dave", &[], "local")
        .await
        .expect("dave");
    let auth = Arc::new(
        Auth::new(store.clone(), &web_config(&dir))
            .await
            .expect("auth"),
    );
    for a in ["alice@example.test", "bob@example.test", "dave@other.test"] {
        auth.set_password(a, PW).await.expect("password");
    }
    ingest(&store, "a.martin@example.test", HTML_MAIL).await;
    ingest(
        &store,
        "bob@example.test",
        b"From: x@remote.test\r\nTo: bob@example.test\r\nSubject: For Bob only\r\n\r\nsecret plans\r\n",
    )
    .await;
    let alice = store
        .account_by_address("alice@example.test")
        .await
        .expect("q")
        .expect("alice");
    let bob = store
        .account_by_address("bob@example.test")
        .await
        .expect("q")
        .expect("bob");
    let alice_mail = store
        .mailbox_page(alice.user, server::store::mailbox::Folder::Inbox, None, 10)
        .await
        .expect("page")[0]
        .id;
    let bob_mail = store
        .mailbox_page(bob.user, server::store::mailbox::Folder::Inbox, None, 10)
        .await
        .expect("page")[0]
        .id;
    Setup {
        store,
        auth,
        alice_mail,
        bob_mail,
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

pub fn peer() -> SocketAddr {
    "198.51.100.7:40000".parse().expect("addr")
}

pub fn location<B>(r: &ServiceResponse<B>) -> String {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

pub fn session_cookie<B>(r: &ServiceResponse<B>) -> Option<actix_web::cookie::Cookie<'static>> {
    r.response()
        .cookies()
        .find(|c| c.name() == "continuity")
        .map(|c| c.into_owned())
}

pub async fn login(
    svc: &impl Service<
        actix_http::Request,
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
    >,
    address: &str,
    password: &str,
) -> ServiceResponse<impl MessageBody> {
    let req = TestRequest::post()
        .uri("/auth/login")
        .peer_addr(peer())
        .set_form([
            ("address", address),
            ("password", password),
            ("next", "/mail/inbox"),
        ])
        .to_request();
    test::call_service(svc, req).await
}

/// Log in and return (cookie value, csrf).
pub async fn session_of(
    s: &Setup,
    svc: &impl Service<
        actix_http::Request,
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
    >,
    address: &str,
) -> (String, String) {
    let r = login(svc, address, PW).await;
    assert_eq!(r.status(), 303, "login of {address}");
    let c = session_cookie(&r).expect("cookie").value().to_string();
    let csrf = s.auth.session(&c).await.expect("live session").csrf;
    (c, csrf)
}

pub async fn body_text(r: ServiceResponse<impl MessageBody>) -> String {
    String::from_utf8_lossy(&test::read_body(r).await).into_owned()
}

pub async fn sqlx_disable(store: &Store, address: &str) {
    let a = store
        .account_by_address(address)
        .await
        .expect("q")
        .expect("user");
    store
        .set_user_disabled(a.user, true)
        .await
        .expect("disable");
}
