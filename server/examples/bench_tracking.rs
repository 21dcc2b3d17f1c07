//! Live Tracking bench (run by `scripts/bench-tracking`): generates N
//! tracking rows (deliveries of N/2 messages to 5 domains, statuses as a
//! real queue has them, some held during outages, plus N/10 refused
//! transactions), then times the Live Tracking query of every kind an
//! operator, a domain admin or a user makes (`Store::tracking`, the path
//! the Control Panel uses), first pages and later pages, and prints
//! p50/p95/p99. It also writes the rows as a Postfix-style maillog so the
//! script can time `grep` over it in the same run.
//!
//!   cargo run --release -p server --example bench_tracking -- DIR [N]

use std::io::Write;
use std::time::Instant;

use server::config::TlsMode;
use server::store::tracking::{Cursor, Direction, Filter, Scope, Status};
use server::store::{DomainId, Store, UserId};
use sqlx::Connection;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const DOMAINS: [&str; 5] = [
    "example.test",
    "acme.test",
    "globex.test",
    "initech.test",
    "umbrella.test",
];
const USERS_PER_DOMAIN: usize = 200;
const SENDERS: usize = 5_000;
const WORDS: [&str; 16] = [
    "invoice",
    "meeting",
    "report",
    "quarterly",
    "contract",
    "urgent",
    "newsletter",
    "order",
    "shipping",
    "payroll",
    "holiday",
    "budget",
    "review",
    "release",
    "incident",
    "welcome",
];

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(
        args.get(1)
            .map(String::as_str)
            .unwrap_or("target/bench-tracking"),
    );
    let n: usize = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(dir, n))
}

async fn generate(db: &std::path::Path, dir: &std::path::Path, n: usize) -> anyhow::Result<()> {
    let store = Store::open(db).await?;
    for d in DOMAINS {
        store
            .add_domain(d, "127.0.0.1", 2526, TlsMode::None)
            .await?;
        for u in 0..USERS_PER_DOMAIN {
            store
                .add_user(&format!("user{u}@{d}"), "", &[], "local")
                .await?;
        }
    }
    drop(store);
    let url = format!("sqlite://{}", db.display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await?;
    sqlx::query("PRAGMA synchronous = OFF")
        .execute(&mut conn)
        .await?;
    let users: Vec<(i64, i64, String)> =
        sqlx::query_as("SELECT id, domain_id, address FROM users ORDER BY id")
            .fetch_all(&mut conn)
            .await?;
    let mut log = std::io::BufWriter::new(std::fs::File::create(dir.join("maillog"))?);
    let mut rng = Rng(0x7eac_0001);
    let now = server::store::now_ms();
    // 90 days of mail, evenly spread
    let span = 90 * 24 * 3600 * 1000i64;
    let messages = n / 2;
    let t0 = Instant::now();
    let mut tx = conn.begin().await?;
    for i in 0..messages {
        let at = now - span + (span / messages as i64) * i as i64;
        let sender = format!("sender{}@remote{}.test", rng.below(SENDERS), rng.below(50));
        let subject = format!(
            "{} {} {}",
            WORDS[rng.below(WORDS.len())],
            WORDS[rng.below(WORDS.len())],
            i
        );
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO messages (received_at, origin, mail_from, client_ip, helo, size, \
             header_from, header_to, subject) VALUES (?, 'smtp', ?, '192.0.2.7', 'mx.remote.test', \
             4096, ?, '', ?) RETURNING id",
        )
        .bind(at)
        .bind(&sender)
        .bind(&sender)
        .bind(&subject)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO messages_fts (rowid, sender, recipients, subject, body) VALUES (?, ?, '', ?, '')",
        )
        .bind(id)
        .bind(&sender)
        .bind(&subject)
        .execute(&mut *tx)
        .await?;
        for _ in 0..2 {
            let (uid, did, addr) = &users[rng.below(users.len())];
            let r = rng.below(1000);
            let status = match r {
                0..=939 => "delivered",
                940..=969 => "delayed",
                970..=984 => "queued",
                985..=994 => "bounced",
                _ => "expired",
            };
            let via = (rng.below(20) == 0) as i64;
            sqlx::query(
                "INSERT INTO deliveries (message_id, rcpt, domain_id, user_id, status, attempts, \
                 next_attempt_at, last_reply, updated_at, via_continuity, received_at) \
                 VALUES (?, ?, ?, ?, ?, 1, ?, '250 2.0.0 Ok: queued', ?, ?, ?)",
            )
            .bind(id)
            .bind(addr)
            .bind(did)
            .bind(uid)
            .bind(status)
            .bind(at)
            .bind(at)
            .bind(via)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            writeln!(
                log,
                "{at} postfix/smtp[1234]: {id:08X}: to=<{addr}>, relay=primary, status={status} ({subject}) from=<{sender}>"
            )?;
        }
        if i % 10 == 0 {
            // a refused transaction now and then (unknown user, relay attempt)
            sqlx::query(
                "INSERT INTO events (at, kind, detail) VALUES (?, 'rejected', json_object(\
                 'client_ip', '198.51.100.9', 'helo', 'spam.test', 'mail_from', ?, 'rcpt', ?, \
                 'reply', '550 5.1.1 unknown user'))",
            )
            .bind(at + 1)
            .bind(&sender)
            .bind(format!("nobody{}@{}", i % 97, DOMAINS[i % DOMAINS.len()]))
            .execute(&mut *tx)
            .await?;
        }
        if i % 50_000 == 49_999 {
            tx.commit().await?;
            tx = conn.begin().await?;
            eprintln!(
                "generated {} of {} tracking rows ({:.0} s)",
                (i + 1) * 2,
                n,
                t0.elapsed().as_secs_f64()
            );
        }
    }
    tx.commit().await?;
    sqlx::query("ANALYZE").execute(&mut conn).await?;
    log.flush()?;
    Ok(())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn run(dir: std::path::PathBuf, n: usize) -> anyhow::Result<()> {
    std::fs::create_dir_all(&dir)?;
    let db = dir.join("continuity.db");
    if !db.exists() {
        generate(&db, &dir, n).await?;
    }
    let store = Store::open(&db).await?;
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM deliveries")
        .fetch_one(
            &mut sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display())).await?,
        )
        .await?;
    let example = store
        .domain_by_name("example.test")
        .await?
        .map(|d| d.id)
        .unwrap_or(DomainId(1));
    let acme = store
        .domain_by_name("acme.test")
        .await?
        .map(|d| d.id)
        .unwrap_or(DomainId(2));
    let operator = Scope::All;
    let admin = Scope::Domains(vec![
        (example, "example.test".into()),
        (acme, "acme.test".into()),
    ]);
    let user = Scope::User(
        store
            .account_by_address("user7@example.test")
            .await?
            .map(|a| a.user)
            .unwrap_or(UserId(1)),
    );
    let now = server::store::now_ms();
    let day = 24 * 3600 * 1000i64;
    let mut rng = Rng(0xbe11_0002);
    let mut cases: Vec<(&str, Scope, Filter)> = Vec::new();
    for round in 0..20 {
        let addr = format!("user{}@example.test", rng.below(USERS_PER_DOMAIN));
        let sender = format!("sender{}@remote{}.test", rng.below(SENDERS), rng.below(50));
        let word = WORDS[rng.below(WORDS.len())];
        let f = Filter::default;
        cases.push(("everything, newest first", operator.clone(), f()));
        cases.push((
            "status bounced",
            operator.clone(),
            Filter {
                status: Some(Status::Bounced),
                ..f()
            },
        ));
        cases.push((
            "status delayed, one domain",
            operator.clone(),
            Filter {
                status: Some(Status::Delayed),
                domain: Some(acme),
                ..f()
            },
        ));
        cases.push(("domain admin, everything", admin.clone(), f()));
        cases.push((
            "domain admin, delivered via Continuity",
            admin.clone(),
            Filter {
                status: Some(Status::Delivered),
                via_continuity: Some(true),
                ..f()
            },
        ));
        cases.push((
            "recipient address",
            operator.clone(),
            Filter {
                recipient: addr.clone(),
                ..f()
            },
        ));
        cases.push((
            "sender address",
            admin.clone(),
            Filter {
                sender: sender.clone(),
                ..f()
            },
        ));
        cases.push((
            "subject word",
            operator.clone(),
            Filter {
                subject: word.into(),
                ..f()
            },
        ));
        cases.push((
            "one day, 30 days ago",
            operator.clone(),
            Filter {
                since: Some(now - (30 + round) * day),
                until: Some(now - (29 + round) * day),
                ..f()
            },
        ));
        cases.push((
            "refused transactions",
            admin.clone(),
            Filter {
                status: Some(Status::Rejected),
                ..f()
            },
        ));
        cases.push((
            "inbound, oldest first",
            operator.clone(),
            Filter {
                direction: Some(Direction::Inbound),
                oldest_first: true,
                ..f()
            },
        ));
        cases.push(("a user's own mail", user.clone(), f()));
        cases.push((
            "sender text (contained)",
            operator.clone(),
            Filter {
                sender: format!("remote{}", rng.below(50)),
                ..f()
            },
        ));
    }
    // every query once: a case that does not vary between rounds is asked
    // once only (no answer from having asked the same thing before); the
    // first one runs on a store just opened
    let mut seen = std::collections::HashSet::new();
    cases.retain(|(kind, scope, filter)| seen.insert(format!("{kind}{scope:?}{filter:?}")));
    let mut all = Vec::new();
    let mut by_kind: std::collections::BTreeMap<&str, Vec<f64>> = Default::default();
    let mut cold = None;
    for (kind, scope, filter) in &cases {
        // first page, then the next two pages
        let mut after: Option<Cursor> = None;
        for _ in 0..3 {
            let t = Instant::now();
            let page = store.tracking(scope, filter, after, 50).await?;
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            cold.get_or_insert((kind, ms));
            all.push(ms);
            by_kind.entry(kind).or_default().push(ms);
            match page.last() {
                Some(r) if page.len() == 50 => after = Some(r.cursor()),
                _ => break,
            }
        }
    }
    all.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{rows} tracking rows; {} queries (pages of 50), each asked once",
        all.len()
    );
    if let Some((kind, ms)) = cold {
        println!("  cold: the first query ({kind}) on a store just opened: {ms:.1} ms");
    }
    for (kind, mut v) in by_kind {
        v.sort_by(|a, b| a.total_cmp(b));
        println!(
            "  {kind:40} p50 {:6.1} ms  p95 {:6.1} ms  max {:6.1} ms",
            percentile(&v, 0.5),
            percentile(&v, 0.95),
            v[v.len() - 1]
        );
    }
    println!(
        "ALL p50 {:.1} ms p95 {:.1} ms p99 {:.1} ms",
        percentile(&all, 0.5),
        percentile(&all, 0.95),
        percentile(&all, 0.99)
    );
    Ok(())
}
