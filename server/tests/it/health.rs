//! `GET /healthz` and `GET /readyz` on a running node: ready while its
//! store takes writes and knows its migrations; 503 with the reason while
//! another holds the database's lock, or once a newer binary has migrated
//! it; ready again after.

use crate::common;

use std::time::{Duration, Instant};

use server::config::StoreUrl;
use sqlx::Connection;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// GET `path` on the node's web port: (status, body).
async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .expect("request");
    let mut page = Vec::new();
    s.read_to_end(&mut page).await.expect("response");
    let page = String::from_utf8_lossy(&page).to_string();
    let status = page
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .expect("a status line");
    let body = page.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

/// Another connection to the node's database, as an operator's tool
/// would have.
enum Other {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl Other {
    async fn open(url: &StoreUrl) -> Other {
        match url {
            StoreUrl::Sqlite(path) => Other::Sqlite(
                sqlx::SqliteConnection::connect_with(
                    &sqlx::sqlite::SqliteConnectOptions::new().filename(path),
                )
                .await
                .expect("sqlite"),
            ),
            StoreUrl::Postgres(url) => {
                Other::Postgres(sqlx::PgConnection::connect(url).await.expect("postgres"))
            }
        }
    }

    async fn run(&mut self, sql: &'static str) {
        match self {
            Other::Sqlite(c) => sqlx::raw_sql(sql).execute(c).await.map(|_| ()),
            Other::Postgres(c) => sqlx::raw_sql(sql).execute(c).await.map(|_| ()),
        }
        .expect(sql);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_says_why_a_node_is_not_ready_and_recovers() {
    let cfg = common::test_config("health");
    let r = common::start(&cfg, None).await;
    let (status, body) = get(r.web_addr, "/healthz").await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    let (status, body) = get(r.web_addr, "/readyz").await;
    assert_eq!((status, body.as_str()), (200, "ready\n"));

    // another holds the write lock: no write within the readiness limit
    let mut other = Other::open(&cfg.store.url).await;
    match other {
        Other::Sqlite(_) => other.run("BEGIN EXCLUSIVE").await,
        Other::Postgres(_) => {
            other
                .run("BEGIN; LOCK TABLE nodes IN ACCESS EXCLUSIVE MODE")
                .await
        }
    }
    tokio::time::sleep(server::health::STORE_CHECK_EVERY).await;
    let asked = Instant::now();
    let (status, body) = get(r.web_addr, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("took no write within 3 s"), "{body}");
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "answered in time"
    );
    other.run("ROLLBACK").await;
    common::eventually(15, "ready again", || async {
        get(r.web_addr, "/readyz").await.0 == 200
    })
    .await;

    // a newer binary migrated the database
    other
        .run(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (99990101000001, 'from the future', TRUE, '\\x00', 0)",
        )
        .await;
    // (the store's answer is kept a second: anyone may ask, and it writes)
    tokio::time::sleep(server::health::STORE_CHECK_EVERY).await;
    let (status, body) = get(r.web_addr, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("migration 99990101000001, which this binary does not know"),
        "{body}"
    );
    other
        .run("DELETE FROM _sqlx_migrations WHERE version = 99990101000001")
        .await;
    tokio::time::sleep(server::health::STORE_CHECK_EVERY).await;
    let (status, body) = get(r.web_addr, "/readyz").await;
    assert_eq!((status, body.as_str()), (200, "ready\n"));
    r.stop().await;
}
