//! The IMAP tests' world: a real store with a covered user, the real
//! driver, imap-next's parser and our session over an in-memory stream,
//! and a client that sends a command and reads the responses (literals
//! included). Shared by every `*_tests.rs` of the IMAP module.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, ReadHalf, WriteHalf};

use super::{drive, ImapContext, Session};
use crate::auth::Auth;
use crate::config::{Config, TlsMode};
use crate::store::testing::Scratch;
use crate::store::{NewMessage, NewRecipient, Origin, Store, Summary, UserId};

pub(super) const PW: &str = "velvet-harbor-Quokka-87";

pub(super) struct World {
    pub(super) store: Store,
    pub(super) ctx: Arc<ImapContext>,
    pub(super) alice: UserId,
    pub(super) dom: crate::store::DomainId,
    /// removed with the world (None: the test keeps its directory itself)
    pub(super) _dir: Option<Scratch>,
}

pub(super) async fn world(tag: &str, plaintext: bool) -> World {
    world_with(
        tag,
        plaintext,
        &[("CONTINUITY_IMAP_MAX_LITERAL_SIZE", "64KiB")],
    )
    .await
}

/// A world with more settings (`CONTINUITY_…` pairs).
pub(super) async fn world_with(tag: &str, plaintext: bool, extra: &[(&str, &str)]) -> World {
    let scratch = Scratch::new(&format!("imap-{tag}"));
    let dir = scratch.path().to_path_buf();
    let env = vec![
        (
            "CONTINUITY_SERVER_DATA_DIR".to_string(),
            dir.display().to_string(),
        ),
        (
            "CONTINUITY_IMAP_MAX_SESSIONS_PER_USER".to_string(),
            "2".to_string(),
        ),
    ];
    let env = env
        .into_iter()
        .chain(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let cfg = Config::load(None, env).expect("config");
    let store = crate::store::testing::open(&dir).await.expect("store");
    let dom = store
        .add_domain("example.test", "127.0.0.1", 2526, TlsMode::None)
        .await
        .expect("domain")
        .id;
    let alice = store
        .add_user(
            "alice@example.test",
            "Alice",
            &["a.smith@example.test".into()],
            "local",
        )
        .await
        .expect("alice")
        .id;
    store
        .add_user("bob@example.test", "Bob", &[], "local")
        .await
        .expect("bob");
    let auth = Arc::new(Auth::new(store.clone(), &cfg.web).await.expect("auth"));
    for a in ["alice@example.test", "bob@example.test"] {
        auth.set_password(a, PW).await.expect("password");
    }
    let mut icfg = cfg.imap.clone();
    icfg.allow_plaintext_auth = plaintext;
    let ctx = ImapContext::new(store.clone(), auth, "imap.test", &icfg, None);
    World {
        store,
        ctx,
        alice,
        dom,
        _dir: Some(scratch),
    }
}

pub(super) async fn deliver(w: &World, raw: &str) {
    w.store
        .ingest(NewMessage {
            origin: Origin::Smtp,
            mail_from: "x@remote.test".into(),
            client_ip: None,
            helo: None,
            tls: false,
            summary: Summary::parse(raw.as_bytes()),
            raw: raw.as_bytes().to_vec(),
            recipients: vec![NewRecipient {
                rcpt: "alice@example.test".into(),
                domain: Some(w.dom),
                user: Some(w.alice),
            }],
            in_reply_to: None,
            sign_as: None,
        })
        .await
        .expect("ingest");
}

pub(super) struct Client {
    r: ReadHalf<DuplexStream>,
    w: WriteHalf<DuplexStream>,
    buf: Vec<u8>,
}

impl Client {
    /// Read until a line starting with `until` (literals read whole).
    pub(super) async fn read_until(&mut self, until: &str) -> String {
        let mut out = String::new();
        loop {
            while let Some(pos) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..pos + 2).collect();
                let text = String::from_utf8_lossy(&line).into_owned();
                // a literal: {n}\r\n then n bytes
                let lit = text
                    .trim_end()
                    .strip_suffix('}')
                    .and_then(|t| t.rsplit_once('{'))
                    .and_then(|(_, n)| n.trim_end_matches('+').parse::<usize>().ok());
                out.push_str(&text);
                if let Some(n) = lit {
                    while self.buf.len() < n {
                        self.fill().await;
                    }
                    let data: Vec<u8> = self.buf.drain(..n).collect();
                    out.push_str(&String::from_utf8_lossy(&data));
                    continue;
                }
                if text.starts_with(until) {
                    return out;
                }
            }
            self.fill().await;
        }
    }

    async fn fill(&mut self) {
        let mut b = [0u8; 8192];
        let n = tokio::time::timeout(Duration::from_secs(10), self.r.read(&mut b))
            .await
            .expect("a response in time")
            .expect("read");
        assert!(
            n > 0,
            "connection closed; got so far: {:?}",
            String::from_utf8_lossy(&self.buf)
        );
        self.buf.extend_from_slice(&b[..n]);
    }

    pub(super) async fn send(&mut self, s: &str) {
        self.w.write_all(s.as_bytes()).await.expect("write");
    }

    /// Send `tag rest` and return everything up to the tagged response.
    pub(super) async fn cmd(&mut self, tag: &str, rest: &str) -> String {
        self.send(&format!("{tag} {rest}\r\n")).await;
        self.read_until(&format!("{tag} ")).await
    }
}

pub(super) async fn connect(w: &World, tls: bool) -> Client {
    let (a, mut b) = tokio::io::duplex(1 << 20);
    let ctx = w.ctx.clone();
    tokio::spawn(async move {
        let (_tx, mut stop) = tokio::sync::watch::channel(false);
        let mut s = Session::new(ctx.clone(), tls, "127.0.0.1".into());
        let deadline = tokio::time::Instant::now() + ctx.login_timeout;
        let _ = drive(&mut b, &mut s, &ctx, &mut stop, true, deadline).await;
        drop(_tx);
    });
    let (r, w) = tokio::io::split(a);
    let mut c = Client {
        r,
        w,
        buf: Vec::new(),
    };
    let greeting = c.read_until("* OK").await;
    assert!(greeting.contains("IMAP4REV1"), "{greeting}");
    c
}

pub(super) async fn logged_in(w: &World) -> Client {
    let mut c = connect(w, true).await;
    let r = c.cmd("l", &format!("LOGIN alice@example.test {PW}")).await;
    assert!(r.contains("l OK"), "{r}");
    c
}

pub(super) const MSG1: &str = "From: Xavier <x@remote.test>\r\nTo: alice@example.test\r\nSubject: Budget 2027\r\n\
Date: Tue, 01 Dec 2026 09:00:00 +0000\r\nMessage-ID: <b1@remote.test>\r\n\r\nCan we meet on Monday?\r\n";
pub(super) const MSG2: &str = "From: news@remote.test\r\nTo: alice@example.test\r\nSubject: Weekly news\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\nContent-Type: text/plain\r\n\r\n\
Hello readers\r\n--zz\r\nContent-Type: application/pdf; name=a.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERg==\r\n--zz--\r\n";
