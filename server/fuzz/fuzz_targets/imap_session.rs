//! The IMAP listener's driver and session over arbitrary bytes, with
//! imap-next's parser as in production and a real store: before login, and
//! (when the first byte says so) after a LOGIN. Property: never panics,
//! never hangs, always ends when the client goes away.
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use server::auth::Auth;
use server::config::{Config, TlsMode};
use server::imap::session::Session;
use server::imap::{drive, ImapContext};
use server::store::{NewMessage, NewRecipient, Origin, Store, Summary};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct World {
    rt: tokio::runtime::Runtime,
    ctx: Arc<ImapContext>,
}

const MESSAGES: [&str; 3] = [
    "From: Xavier <x@remote.test>\r\nTo: alice@example.test\r\nSubject: Budget\r\nDate: Tue, 01 Dec 2026 09:00:00 +0000\r\nMessage-ID: <b1@remote.test>\r\n\r\nCan we meet?\r\n",
    "From: news@remote.test\r\nTo: alice@example.test\r\nSubject: =?utf-8?q?Caf=C3=A9?=\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\nContent-Type: text/plain\r\n\r\nHello\r\n--zz\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nin\r\n--zz--\r\n",
    "Subject: no from\r\n\r\nbody\r\n",
];

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        // in memory when the machine has a tmpfs: every write is fsynced,
        // and the fuzzer wants thousands of sessions a second
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            std::path::PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("continuity-fuzz-imap-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let ctx = rt.block_on(async {
            let env = vec![
                ("CONTINUITY_SERVER_DATA_DIR".to_string(), dir.display().to_string()),
                ("CONTINUITY_IMAP_APPEND_QUOTA".to_string(), "1MiB".to_string()),
                ("CONTINUITY_IMAP_MAX_LITERAL_SIZE".to_string(), "256KiB".to_string()),
                // the fuzzer guesses wrong all day: no throttle slowing it down
                ("CONTINUITY_WEB_LOGIN_FAILURES_PER_ACCOUNT".to_string(), "1000000000".to_string()),
                ("CONTINUITY_WEB_LOGIN_FAILURES_PER_IP".to_string(), "1000000000".to_string()),
            ];
            let cfg = Config::parse("", "fuzz", env).expect("config");
            let store = Store::open(&cfg.database_path()).await.expect("store");
            let dom = store
                .add_domain("example.test", "127.0.0.1", 2526, TlsMode::None)
                .await
                .expect("domain")
                .id;
            let alice = store
                .add_user("alice@example.test", "Alice", &[], "local")
                .await
                .expect("alice")
                .id;
            // a cheap hash: the fuzzer logs in thousands of times
            use argon2::password_hash::{PasswordHasher, SaltString};
            let params = argon2::Params::new(8, 1, 1, None).expect("params");
            let hasher = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
            let salt = SaltString::from_b64("c2FsdHNhbHRzYWx0").expect("salt");
            let hash = hasher.hash_password(b"fuzz-password", &salt).expect("hash").to_string();
            store.set_password_hash(alice, &hash).await.expect("password");
            for m in MESSAGES {
                store
                    .ingest(NewMessage {
                        origin: Origin::Smtp,
                        mail_from: "x@remote.test".into(),
                        client_ip: None,
                        helo: None,
                        tls: false,
                        summary: Summary::parse(m.as_bytes()),
                        raw: m.as_bytes().to_vec(),
                        recipients: vec![NewRecipient {
                            rcpt: "alice@example.test".into(),
                            domain: Some(dom),
                            user: Some(alice),
                        }],
                        in_reply_to: None,
                    })
                    .await
                    .expect("ingest");
            }
            let auth = Arc::new(Auth::new(store.clone(), &cfg.web).await.expect("auth"));
            ImapContext::new(store, auth, "imap.fuzz", &cfg.imap, None)
        });
        World { rt, ctx }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let w = world();
    let ctx = w.ctx.clone();
    w.rt.block_on(async move {
        let (client, mut server_side) = tokio::io::duplex(1 << 16);
        let server = tokio::spawn(async move {
            let mut s = Session::new(ctx.clone(), true, "192.0.2.1".into());
            let (_stop_tx, mut stop) = tokio::sync::watch::channel(false);
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            let _ = drive(&mut server_side, &mut s, &ctx, &mut stop, true, deadline).await;
        });
        let (mut r, mut wr) = tokio::io::split(client);
        let reader = tokio::spawn(async move {
            let mut out = Vec::new();
            let _ = r.read_to_end(&mut out).await;
            out.len()
        });
        if mode & 1 == 1 {
            let _ = wr.write_all(b"L LOGIN alice@example.test fuzz-password\r\n").await;
            if mode & 2 == 2 {
                let _ = wr.write_all(b"S SELECT INBOX\r\n").await;
            }
        }
        let _ = wr.write_all(rest).await;
        let _ = wr.shutdown().await;
        // the session ends once the client is gone
        tokio::time::timeout(Duration::from_secs(20), server)
            .await
            .expect("the IMAP session ended after the client left")
            .expect("no panic in the session");
        let _ = reader.await;
    });
});
