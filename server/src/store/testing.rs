//! Stores for tests: the SQLite file under a test's directory, or — when
//! `CONTINUITY_TEST_POSTGRES` names a PostgreSQL server (`scripts/pg
//! start` prints one) — a fresh database on it, so that the same tests
//! run on both backends.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

use super::{Store, StoreUrl};

static N: AtomicU32 = AtomicU32::new(0);

/// A unit test's scratch directory under the system's temporary
/// directory, removed with everything in it when dropped (unit tests
/// have no Cargo target scratch directory of their own).
pub struct Scratch(std::path::PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!(
            "continuity-{tag}-{}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            super::now_ms()
        ));
        std::fs::create_dir_all(&d).expect("scratch dir");
        Scratch(d)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The store URL of the test whose scratch directory is `dir`: the
/// same for every call with the same `dir` (a test that reopens its
/// store finds its data again).
pub fn url(dir: &Path) -> StoreUrl {
    let Ok(server) = std::env::var("CONTINUITY_TEST_POSTGRES") else {
        return StoreUrl::Sqlite(dir.join("continuity.db"));
    };
    let remembered = dir.join("store-url");
    if let Ok(u) = std::fs::read_to_string(&remembered) {
        return StoreUrl::Postgres(u);
    }
    let name = format!(
        "t_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        super::now_ms() % 100_000_000
    );
    let admin = server.clone();
    let create = name.clone();
    // a runtime of its own: callers may be inside one or not
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(&admin)
                .await
                .expect("CONTINUITY_TEST_POSTGRES: cannot connect");
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {create}")))
                .execute(&mut c)
                .await
                .expect("create a test database");
        })
    })
    .join()
    .expect("test database");
    let mut u = url::Url::parse(&server).expect("CONTINUITY_TEST_POSTGRES is a URL");
    u.set_path(&name);
    let u = u.to_string();
    std::fs::create_dir_all(dir).expect("test dir");
    std::fs::write(&remembered, &u).expect("remember the test database");
    StoreUrl::Postgres(u)
}

/// The test store under `dir` with the domain example.test and its
/// user alice@example.test: (store, alice, the domain).
pub async fn with_alice(dir: &Path) -> (Store, super::UserId, super::DomainId) {
    let store = open(dir).await.expect("store");
    store
        .add_domain(
            "example.test",
            "127.0.0.1",
            2526,
            crate::config::TlsMode::None,
        )
        .await
        .expect("domain");
    let alice = store
        .add_user("alice@example.test", "Alice", &[], "local")
        .await
        .expect("user")
        .id;
    let domain = domain_of(&store, "alice@example.test").await;
    (store, alice, domain)
}

/// The protected domain `rcpt` is accepted for.
pub async fn domain_of(store: &Store, rcpt: &str) -> super::DomainId {
    use crate::directory::{RcptVerdict, RecipientPolicy};
    let snap = store.directory_snapshot().await.expect("directory");
    let RcptVerdict::Accept { domain, .. } = snap.check(rcpt) else {
        panic!("{rcpt} is not accepted");
    };
    domain
}

/// A message from s@remote.test to alice@example.test in `domain`
/// (and in `user`'s mailbox).
pub fn message_to_alice(
    subject: &str,
    body: &str,
    domain: super::DomainId,
    user: Option<super::UserId>,
) -> super::NewMessage {
    let raw = format!(
        "From: s@remote.test\r\nTo: alice@example.test\r\nSubject: {subject}\r\n\r\n{body}\r\n"
    )
    .into_bytes();
    super::NewMessage {
        origin: super::Origin::Smtp,
        mail_from: "s@remote.test".into(),
        client_ip: None,
        helo: None,
        tls: false,
        summary: super::Summary::parse(&raw),
        raw,
        recipients: vec![super::NewRecipient {
            rcpt: "alice@example.test".into(),
            domain: Some(domain),
            user,
        }],
        in_reply_to: None,
        sign_as: None,
    }
}

/// Open the test store under `dir` (see [`url`]).
pub async fn open(dir: &Path) -> super::Result<Store> {
    match url(dir) {
        StoreUrl::Sqlite(p) => Store::open(&p).await,
        StoreUrl::Postgres(u) => Store::open_postgres(&u, 10).await,
    }
}
