//! Search bench (run by `scripts/bench-search`): generates a mailbox of N
//! messages (deterministic pseudo-random French/English-like text, 10 % with
//! an attachment), then times searches of every kind through the same path
//! the webmail uses (`StoreBackend::mail_search`: parsing, FTS5, paging) and
//! prints p50/p95/p99. It also writes the corpus as an mbox so the script
//! can time `grep` over it: the cost of searching without an index, in the
//! same run.
//!
//!   cargo run --release -p server --example bench_search -- DIR [N]

use std::sync::Arc;
use std::time::Instant;

use app::backend::{Backend, SearchParams, SessionUser};
use server::config::TlsMode;
use server::directory::{RcptVerdict, RecipientPolicy};
use server::store::{NewMessage, NewRecipient, Origin, Store, Summary};

/// xorshift64*: deterministic, no dependency.
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
    /// Roughly Zipf: small indexes are much more frequent.
    fn zipf(&mut self, n: usize) -> usize {
        let u = (self.next() % 1_000_000) as f64 / 1_000_000.0;
        ((n as f64).powf(u) as usize).saturating_sub(1).min(n - 1)
    }
}

fn vocabulary(rng: &mut Rng, n: usize) -> Vec<String> {
    const SYL: [&str; 24] = [
        "ra", "mon", "tel", "vi", "sa", "lor", "pen", "di", "qua", "bre", "fin", "sto", "ma",
        "gal", "ter", "no", "chi", "van", "pli", "ro", "dé", "ê", "un", "ke",
    ];
    let mut words = Vec::with_capacity(n);
    while words.len() < n {
        let len = 2 + rng.below(3);
        let w: String = (0..len).map(|_| SYL[rng.below(SYL.len())]).collect();
        if !words.contains(&w) {
            words.push(w);
        }
    }
    words
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(
        args.get(1)
            .map(String::as_str)
            .unwrap_or("target/bench-search"),
    );
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(dir, n))
}

async fn run(dir: std::path::PathBuf, n: usize) -> anyhow::Result<()> {
    std::fs::create_dir_all(&dir)?;
    // BENCH_STORE_URL: the same bench on another store (a PostgreSQL
    // database made for it); the corpus stays in `dir`
    let (store, fresh) = match std::env::var("BENCH_STORE_URL") {
        Ok(url) => {
            let store = Store::open_postgres(&url, 10).await?;
            let fresh = store.domain_by_name("example.test").await?.is_none();
            (store, fresh)
        }
        Err(_) => {
            let db = dir.join("continuity.db");
            let fresh = !db.exists();
            (Store::open(&db).await?, fresh)
        }
    };
    let mut rng = Rng(0x5eed_cafe_f00d_0001);
    let words = vocabulary(&mut rng, 3000);
    if fresh {
        store
            .add_domain("example.test", "127.0.0.1", 2526, TlsMode::None)
            .await?;
        store
            .add_user("alice@example.test", "Alice", &[], "local")
            .await?;
        store
            .add_user("bob@example.test", "Bob", &[], "local")
            .await?;
    }
    let snap = store.directory_snapshot().await?;
    let (domain, alice) = match snap.check("alice@example.test") {
        RcptVerdict::Accept { domain, user } => (domain, user),
        other => anyhow::bail!("alice: {other:?}"),
    };
    let have = store
        .folder_counts(alice.expect("alice is a user"))
        .await?
        .inbox as usize;
    if have < n {
        eprintln!("generating {} messages in {} …", n - have, dir.display());
        let t0 = Instant::now();
        let mut mbox = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("corpus.mbox"))?;
        let mut pending = Vec::new();
        for i in have..n {
            let sender = format!("{}@{}.test", words[rng.zipf(500)], words[rng.below(200)]);
            let subject: Vec<&str> = (0..3 + rng.below(4))
                .map(|_| words[rng.zipf(3000)].as_str())
                .collect();
            let body: Vec<&str> = (0..40 + rng.below(80))
                .map(|_| words[rng.zipf(3000)].as_str())
                .collect();
            let attach = rng.below(10) == 0;
            let raw = if attach {
                format!(
                    "From: {sender}\r\nTo: alice@example.test\r\nSubject: {}\r\nMessage-ID: <{i}@bench>\r\n\
                     MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
                     Content-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n--b\r\nContent-Type: application/pdf\r\n\
                     Content-Disposition: attachment; filename={}.pdf\r\n\r\nxx\r\n--b--\r\n",
                    subject.join(" "),
                    body.join(" "),
                    words[rng.below(3000)]
                )
            } else {
                format!(
                    "From: {sender}\r\nTo: alice@example.test\r\nSubject: {}\r\nMessage-ID: <{i}@bench>\r\n\
                     Content-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n",
                    subject.join(" "),
                    body.join(" ")
                )
            };
            use std::io::Write;
            writeln!(mbox, "From {sender} Sat Nov 28 10:00:00 2026")?;
            mbox.write_all(raw.replace("\r\n", "\n").as_bytes())?;
            writeln!(mbox)?;
            let raw = raw.into_bytes();
            let msg = NewMessage {
                origin: Origin::Smtp,
                mail_from: sender,
                client_ip: None,
                helo: None,
                tls: false,
                summary: Summary::parse(&raw),
                raw,
                recipients: vec![NewRecipient {
                    rcpt: "alice@example.test".into(),
                    domain: Some(domain),
                    user: alice,
                }],
                in_reply_to: None,
                sign_as: None,
            };
            let s = store.clone();
            pending.push(tokio::spawn(async move { s.ingest(msg).await }));
            if pending.len() >= 256 {
                for p in pending.drain(..) {
                    p.await??;
                }
            }
        }
        for p in pending.drain(..) {
            p.await??;
        }
        eprintln!("generated in {:.1}s", t0.elapsed().as_secs_f64());
    }

    let auth = Arc::new(server::auth::Auth::new(store.clone(), &test_web(&dir)?).await?);
    let backend = server::web::StoreBackend {
        store: store.clone(),
        auth,
        hostname: "bench".into(),
        outbound: Default::default(),
        sms: false,
    };
    let session = SessionUser {
        user: alice.expect("alice").0,
        csrf: String::new(),
    };
    // the queries: common and rare words, prefixes, two words, sender,
    // subject, attachment filter, date range, and the second page
    let mut queries: Vec<(&str, SearchParams)> = Vec::new();
    for k in 0..40 {
        let common = words[rng.zipf(20)].clone();
        let rare = words[1000 + rng.below(2000)].clone();
        queries.push((
            "common word",
            SearchParams {
                q: common.clone(),
                ..Default::default()
            },
        ));
        queries.push((
            "rare word",
            SearchParams {
                q: rare.clone(),
                ..Default::default()
            },
        ));
        queries.push((
            "prefix",
            SearchParams {
                q: rare.chars().take(3).collect(),
                ..Default::default()
            },
        ));
        queries.push((
            "two words",
            SearchParams {
                q: format!("{common} {rare}"),
                ..Default::default()
            },
        ));
        queries.push((
            "sender",
            SearchParams {
                from: words[rng.zipf(500)].clone(),
                ..Default::default()
            },
        ));
        queries.push((
            "subject",
            SearchParams {
                subject: words[rng.zipf(3000)].clone(),
                ..Default::default()
            },
        ));
        queries.push((
            "word + attachment",
            SearchParams {
                q: common.clone(),
                attachment: true,
                ..Default::default()
            },
        ));
        queries.push((
            "date range",
            SearchParams {
                since: "2026-01-01".into(),
                until: "2030-12-31".into(),
                ..Default::default()
            },
        ));
        let _ = k;
    }
    // every query once, none repeated: no answer comes from having asked
    // the same thing before; the first one runs on a store just opened
    let mut all = Vec::new();
    let mut by_kind: std::collections::BTreeMap<&str, Vec<f64>> = Default::default();
    let mut cold = None;
    for (kind, q) in &queries {
        let t = Instant::now();
        let page = backend.mail_search(&session, q, None).await?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        cold.get_or_insert((kind, ms));
        all.push(ms);
        by_kind.entry(kind).or_default().push(ms);
        if let Some(next) = page.next {
            let t = Instant::now();
            backend.mail_search(&session, q, Some(next)).await?;
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            all.push(ms);
            by_kind.entry("next page").or_default().push(ms);
        }
    }
    let pct = |v: &mut Vec<f64>, p: f64| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[((v.len() as f64 - 1.0) * p).round() as usize]
    };
    println!(
        "mailbox: {n} messages; {} searches, each asked once",
        all.len()
    );
    if let Some((kind, ms)) = cold {
        println!("  cold: the first search ({kind}) on a store just opened: {ms:.2} ms");
    }
    for (kind, mut v) in by_kind {
        println!(
            "  {kind:<18} p50 {:>7.2} ms   p95 {:>7.2} ms",
            pct(&mut v, 0.5),
            pct(&mut v, 0.95)
        );
    }
    println!(
        "ALL p50 {:.2} ms p95 {:.2} ms p99 {:.2} ms",
        pct(&mut all, 0.5),
        pct(&mut all, 0.95),
        pct(&mut all, 0.99)
    );
    // words for the grep baseline
    println!("GREP_WORDS {} {}", words[3], words[1500]);
    Ok(())
}

fn test_web(dir: &std::path::Path) -> anyhow::Result<server::config::WebConfig> {
    let env = vec![(
        "CONTINUITY_SERVER_DATA_DIR".to_string(),
        dir.display().to_string(),
    )];
    Ok(server::config::Config::load(None, env)?.web)
}
