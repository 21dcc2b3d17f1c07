//! Users told of starts and ends (issue 21, item 1), in process against a
//! small HTTP receiver standing for the SMS gateway (its signature
//! checked): each covered user told once per event on each verified
//! channel, in their language, with the webmail's address and no secret;
//! a flapping primary sends nothing more within the quiet period; an
//! uncovered user, an unproved entry and a drill get nothing; a backup
//! address in the failing domain is never used; the SMS cap and the
//! Control Panel's resend; a user's own backup address proved by its
//! link, a mobile by its texted code.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::test::{self, TestRequest};
use server::config::{SmsBody, SmsGateway};
use server::monitor::state::{Mode, Transition};
use server::notify::{sms::Gateway, Notifier};
use server::store::contacts::{Channel, ContactSource};
use server::store::notices::NoticeStatus;
use server::store::{DomainId, Store, UserId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::control::*;

/// One request the gateway got: its headers (lower-cased names) and body.
#[derive(Debug, Clone)]
struct Got {
    headers: Vec<(String, String)>,
    body: String,
}

impl Got {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

/// A gateway on 127.0.0.1 answering `status` to every POST.
async fn receiver(status: u16) -> (String, Arc<Mutex<Vec<Got>>>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/send", l.local_addr().expect("addr"));
    let got = Arc::new(Mutex::new(Vec::new()));
    let keep = got.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let keep = keep.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(n) = s.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).into_owned();
                    let Some((head, body)) = text.split_once("\r\n\r\n") else {
                        continue;
                    };
                    let headers: Vec<(String, String)> = head
                        .lines()
                        .skip(1)
                        .filter_map(|l| l.split_once(':'))
                        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
                        .collect();
                    let len: usize = headers
                        .iter()
                        .find(|(n, _)| n == "content-length")
                        .and_then(|(_, v)| v.parse().ok())
                        .unwrap_or(0);
                    if body.len() < len {
                        continue;
                    }
                    if let Ok(mut g) = keep.lock() {
                        g.push(Got {
                            headers,
                            body: body[..len].to_string(),
                        });
                    }
                    let _ = s
                        .write_all(
                            format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                                .as_bytes(),
                        )
                        .await;
                    return;
                }
            });
        }
    });
    (url, got)
}

const KEY: &str = "sms-signing-key";

fn gateway(url: &str, cap: u32) -> Arc<Gateway> {
    let dir = crate::common::temp_dir("sms-key");
    let key = dir.join("sms.key");
    std::fs::write(&key, format!("{KEY}\n")).expect("key");
    let headers = dir.join("sms.headers");
    std::fs::write(
        &headers,
        "# the provider's\nAuthorization: Bearer provider-token\n",
    )
    .expect("headers");
    Arc::new(
        Gateway::new(SmsGateway {
            url: url.to_string(),
            content_type: SmsBody::Json,
            body: r#"{"to": "{to}", "text": "{text}"}"#.into(),
            secret_file: Some(key),
            headers_file: Some(headers),
            cap_per_domain: cap,
        })
        .expect("gateway"),
    )
}

fn notifier(s: &Setup, gw: Option<Arc<Gateway>>) -> Notifier {
    Notifier::new(
        s.store.clone(),
        "mx.continuity.test",
        "https://continuity.example.net",
        Duration::from_secs(1800),
        gw,
    )
}

async fn user(store: &Store, address: &str) -> UserId {
    store
        .account_by_address(address)
        .await
        .expect("q")
        .expect("user")
        .user
}

async fn change(s: &Setup, domain: DomainId, from: Mode, to: Mode) {
    let d = s
        .store
        .monitored_domain(domain)
        .await
        .expect("q")
        .expect("domain");
    let t = Transition {
        from,
        to,
        reason: "test".into(),
    };
    server::notify::event(&s.store, &d, &t)
        .await
        .expect("event");
}

/// Messages queued to `rcpt`: their subject and text.
async fn mails_to(store: &Store, rcpt: &str) -> Vec<String> {
    let ids = store.messages_to(rcpt).await.expect("q");
    let mut out = Vec::new();
    for id in ids {
        let raw = store.raw_message(id).await.expect("q").expect("raw");
        let m = mail_parser::MessageParser::default()
            .parse(&raw)
            .expect("a message");
        let auto = m
            .header_raw("Auto-Submitted")
            .map(|v| format!("Auto-Submitted:{v}"))
            .unwrap_or_default();
        out.push(format!(
            "Subject: {}\n{auto}\n{}",
            m.subject().unwrap_or_default(),
            m.body_text(0).unwrap_or_default()
        ));
    }
    out
}

#[actix_web::test]
async fn covered_users_are_told_once_per_event_on_each_proved_channel() {
    let s = setup("notify-fanout").await;
    let (url, got) = receiver(200).await;
    let n = notifier(&s, Some(gateway(&url, 100)));
    let (alice, bob, carol) = (
        user(&s.store, "alice@example.test").await,
        user(&s.store, "bob@example.test").await,
        user(&s.store, "carol@example.test").await,
    );
    // alice: both, set by an admin; she uses the webmail in French
    s.store
        .set_contact(
            alice,
            Channel::Email,
            Some("alice@home.test"),
            ContactSource::Admin,
        )
        .await
        .expect("set");
    s.store
        .set_contact(
            alice,
            Channel::Sms,
            Some("+33612345678"),
            ContactSource::Admin,
        )
        .await
        .expect("set");
    s.store.set_user_lang(alice, "fr").await.expect("lang");
    // bob: his own entry, never proved
    s.store
        .set_contact(
            bob,
            Channel::Email,
            Some("bob@home.test"),
            ContactSource::User,
        )
        .await
        .expect("set");
    // carol: a backup address in her own (failing) domain
    s.store
        .set_contact(
            carol,
            Channel::Email,
            Some("a.martin@example.test"),
            ContactSource::Admin,
        )
        .await
        .expect("set");
    // dave (other.test) has a proved address; his domain is not failing
    let dave = user(&s.store, "dave@other.test").await;
    s.store
        .set_contact(
            dave,
            Channel::Email,
            Some("dave@home.test"),
            ContactSource::Admin,
        )
        .await
        .expect("set");

    change(&s, s.example, Mode::Normal, Mode::Outage).await;
    n.work().await.expect("work");

    let mails = mails_to(&s.store, "alice@home.test").await;
    assert_eq!(mails.len(), 1, "one mail to alice's backup address");
    let m = &mails[0];
    assert!(
        m.contains("Subject: Messagerie example.test indisponible"),
        "{m}"
    );
    assert!(m.contains("https://continuity.example.net/login"), "{m}");
    assert!(m.contains("Auto-Submitted: auto-generated"), "{m}");
    assert!(m.contains("mot de passe d'urgence"), "in French: {m}");
    assert!(!m.to_lowercase().contains("password:"), "no secret");
    let sms = got.lock().expect("lock").clone();
    assert_eq!(sms.len(), 1, "{sms:?}");
    let body = sms[0].json();
    assert_eq!(body["to"], "+33612345678");
    let text = body["text"].as_str().expect("text");
    assert!(
        text.starts_with("Messagerie example.test indisponible"),
        "{text}"
    );
    assert!(
        text.contains("https://continuity.example.net/login"),
        "{text}"
    );
    // signed as the webhooks are, the provider's header along
    let sig = sms[0].header("continuity-signature").expect("signed");
    let (t, _) = sig.split_once(",v1=").expect("t=…,v1=…");
    let unix: i64 = t.trim_start_matches("t=").parse().expect("time");
    assert_eq!(
        sig,
        server::monitor::webhook::signature(KEY, unix, &sms[0].body)
    );
    assert_eq!(
        sms[0].header("authorization"),
        Some("Bearer provider-token")
    );
    assert_eq!(sms[0].header("content-type"), Some("application/json"));

    assert!(
        mails_to(&s.store, "bob@home.test").await.is_empty(),
        "not proved"
    );
    assert!(
        mails_to(&s.store, "dave@home.test").await.is_empty(),
        "another domain"
    );
    assert!(
        mails_to(&s.store, "a.martin@example.test").await.is_empty(),
        "failing domain"
    );
    let lines = s.store.last_event_notices(s.example).await.expect("q");
    let carol_line = lines
        .iter()
        .find(|l| l.user == carol)
        .expect("carol's notice recorded");
    assert_eq!(
        (carol_line.status, carol_line.detail.as_str()),
        (NoticeStatus::Skipped, "failing-domain")
    );
    assert!(lines.iter().all(|l| l.user != bob));

    // the primary flaps: a second start within the quiet period tells nobody
    change(&s, s.example, Mode::Recovering, Mode::Normal).await;
    change(&s, s.example, Mode::Normal, Mode::Outage).await;
    n.work().await.expect("work");
    let mails = mails_to(&s.store, "alice@home.test").await;
    assert_eq!(mails.len(), 2, "the end, once; the second start, not");
    assert!(
        mails[1].contains("Messagerie example.test r"),
        "{}",
        mails[1]
    );
    assert_eq!(
        got.lock().expect("lock").len(),
        2,
        "one start and one end by SMS"
    );
    let lines = s.store.last_event_notices(s.example).await.expect("q");
    assert!(lines
        .iter()
        .filter(|l| l.user == alice)
        .all(|l| l.status == NoticeStatus::Skipped && l.detail == "quiet"));
    // running again (another node, a restart) adds nothing
    n.work().await.expect("work");
    assert_eq!(mails_to(&s.store, "alice@home.test").await.len(), 2);

    // drills: not told unless the domain asks for it
    change(&s, s.other, Mode::Normal, Mode::Drill).await;
    n.work().await.expect("work");
    assert!(mails_to(&s.store, "dave@home.test").await.is_empty());
    s.store
        .set_notify_settings(s.other, true, true)
        .await
        .expect("set");
    change(&s, s.other, Mode::Drill, Mode::Normal).await;
    n.work().await.expect("work");
    assert_eq!(mails_to(&s.store, "dave@home.test").await.len(), 1);
    // and a domain that turned it off tells nobody
    s.store
        .set_notify_settings(s.other, false, true)
        .await
        .expect("set");
    s.store
        .set_contact(
            dave,
            Channel::Email,
            Some("dave@elsewhere.test"),
            ContactSource::Admin,
        )
        .await
        .expect("set");
    change(&s, s.other, Mode::Normal, Mode::Outage).await;
    n.work().await.expect("work");
    assert!(mails_to(&s.store, "dave@elsewhere.test").await.is_empty());
}

#[actix_web::test]
async fn the_sms_cap_holds_and_the_control_panel_sends_again() {
    let s = setup("notify-cap").await;
    let (url, got) = receiver(200).await;
    let n = notifier(&s, Some(gateway(&url, 1)));
    for (a, m) in [
        ("alice@example.test", "+33611111111"),
        ("bob@example.test", "+33622222222"),
    ] {
        let u = user(&s.store, a).await;
        s.store
            .set_contact(u, Channel::Sms, Some(m), ContactSource::Directory)
            .await
            .expect("set");
    }
    change(&s, s.example, Mode::Normal, Mode::Outage).await;
    n.work().await.expect("work");
    assert_eq!(got.lock().expect("lock").len(), 1, "the cap");
    let lines = s.store.last_event_notices(s.example).await.expect("q");
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.status == NoticeStatus::Skipped && l.detail == "cap")
            .count(),
        1
    );
    assert_eq!(n.resend(s.example).await.expect("resend"), 1);
    n.work().await.expect("work");
    assert_eq!(got.lock().expect("lock").len(), 2);
    let lines = s.store.last_event_notices(s.example).await.expect("q");
    assert!(
        lines.iter().all(|l| l.status == NoticeStatus::Sent),
        "{lines:?}"
    );
}

#[actix_web::test]
async fn a_gateway_that_fails_is_tried_again_later() {
    let s = setup("notify-fail").await;
    let (url, got) = receiver(503).await;
    let n = notifier(&s, Some(gateway(&url, 10)));
    let alice = user(&s.store, "alice@example.test").await;
    s.store
        .set_contact(
            alice,
            Channel::Sms,
            Some("+33611111111"),
            ContactSource::Admin,
        )
        .await
        .expect("set");
    change(&s, s.example, Mode::Normal, Mode::Outage).await;
    n.work().await.expect("work");
    assert_eq!(got.lock().expect("lock").len(), 1);
    let line = s
        .store
        .last_event_notices(s.example)
        .await
        .expect("q")
        .remove(0);
    assert_eq!(line.status, NoticeStatus::Queued, "to be tried again");
    assert!(line.detail.contains("503"), "{}", line.detail);
    // not again at once
    n.work().await.expect("work");
    assert_eq!(got.lock().expect("lock").len(), 1);
}

#[actix_web::test]
async fn a_users_own_contact_points_count_once_proved() {
    let s = setup("notify-contacts").await;
    let svc = app(&s).await;
    let c = login(&svc, "alice@example.test", "continuity").await;
    let csrf = s.auth.session(c.value()).await.expect("s").csrf;
    let post = |uri: &str, form: Vec<(&'static str, String)>| {
        TestRequest::post()
            .uri(uri)
            .cookie(c.clone())
            .set_form(form)
            .to_request()
    };
    // her own address, or an alias of it: refused
    for own in ["alice@example.test", "A.Martin@example.test"] {
        let r = test::call_service(
            &svc,
            post(
                "/settings/contacts/email",
                vec![
                    ("csrf", csrf.clone()),
                    ("value", own.into()),
                    ("action", "save".into()),
                ],
            ),
        )
        .await;
        assert_eq!(
            location(&r),
            "/settings?ce=own#contacts",
            "{:?}",
            r.status()
        );
    }
    let r = test::call_service(
        &svc,
        post(
            "/settings/contacts/email",
            vec![
                ("csrf", csrf.clone()),
                ("value", "not an address".into()),
                ("action", "save".into()),
            ],
        ),
    )
    .await;
    assert_eq!(location(&r), "/settings?ce=address#contacts");
    let r = test::call_service(
        &svc,
        post(
            "/settings/contacts/email",
            vec![
                ("csrf", csrf.clone()),
                ("value", "alice@home.test".into()),
                ("action", "save".into()),
            ],
        ),
    )
    .await;
    assert_eq!(location(&r), "/settings?contact=email#contacts");
    let alice = user(&s.store, "alice@example.test").await;
    let c0 = s.store.contact_points(alice).await.expect("q");
    assert!(!c0.alt_email.expect("set").verified, "not before the link");
    let mail = mails_to(&s.store, "alice@home.test").await.remove(0);
    let link = mail
        .split_whitespace()
        .find(|w| w.contains("/contacts/verify?"))
        .expect("the link")
        .to_string();
    let path = &link[link.find("/contacts/verify").expect("path")..];
    // a wrong secret: refused
    let forged = format!("{}x", path);
    let r = test::call_service(&svc, TestRequest::get().uri(&forged).to_request()).await;
    assert_eq!(location(&r), "/settings?ce=link#contacts");
    // the link, opened without a session (on another device)
    let r = test::call_service(&svc, TestRequest::get().uri(path).to_request()).await;
    assert_eq!(location(&r), "/settings?contact=email-verified#contacts");
    assert!(
        s.store
            .contact_points(alice)
            .await
            .expect("q")
            .alt_email
            .expect("set")
            .verified
    );
    // used: not again
    let r = test::call_service(&svc, TestRequest::get().uri(path).to_request()).await;
    assert_eq!(location(&r), "/settings?ce=link#contacts");
    // no gateway on this service: a mobile cannot be proved
    let r = test::call_service(
        &svc,
        post(
            "/settings/contacts/mobile",
            vec![
                ("csrf", csrf.clone()),
                ("value", "+33 6 12 34 56 78".into()),
                ("action", "save".into()),
            ],
        ),
    )
    .await;
    assert_eq!(location(&r), "/settings?ce=no-gateway#contacts");
    // the form without the session's token: refused
    let r = test::call_service(
        &svc,
        post(
            "/settings/contacts/email",
            vec![
                ("csrf", "forged".into()),
                ("value", "x@home.test".into()),
                ("action", "save".into()),
            ],
        ),
    )
    .await;
    assert_eq!(r.status(), 403);

    // with a gateway: the code texted proves the number, five tries at most
    let (url, got) = receiver(200).await;
    let gw = gateway(&url, 10);
    server::notify::contacts::set_mobile(
        &s.store,
        Some(&gw),
        alice,
        Some("+33 6 12 34 56 78"),
        app::i18n::Lang::En,
    )
    .await
    .expect("texted");
    let text = got.lock().expect("lock")[0].json()["text"]
        .as_str()
        .expect("text")
        .to_string();
    let code = text.rsplit(' ').next().expect("code").to_string();
    assert_eq!(code.len(), 6, "{text}");
    assert!(
        server::notify::contacts::confirm_mobile(&s.store, alice, "000000")
            .await
            .is_err()
            || code == "000000"
    );
    server::notify::contacts::confirm_mobile(&s.store, alice, &code)
        .await
        .expect("proved");
    let m = s
        .store
        .contact_points(alice)
        .await
        .expect("q")
        .mobile
        .expect("set");
    assert_eq!((m.value.as_str(), m.verified), ("+33612345678", true));
    // a new number must be proved again
    server::notify::contacts::set_mobile(
        &s.store,
        Some(&gw),
        alice,
        Some("+33699999999"),
        app::i18n::Lang::En,
    )
    .await
    .expect("texted");
    for _ in 0..5 {
        let _ = server::notify::contacts::confirm_mobile(&s.store, alice, "12345x").await;
    }
    let text = got.lock().expect("lock")[1].json()["text"]
        .as_str()
        .expect("text")
        .to_string();
    let code = text.rsplit(' ').next().expect("code").to_string();
    assert!(
        server::notify::contacts::confirm_mobile(&s.store, alice, &code)
            .await
            .is_err(),
        "five wrong tries spend the code"
    );
    assert!(
        !s.store
            .contact_points(alice)
            .await
            .expect("q")
            .mobile
            .expect("set")
            .verified
    );
}

#[actix_web::test]
async fn the_control_panel_shows_who_was_told_and_its_switches() {
    let s = setup("notify-panel").await;
    let svc = app(&s).await;
    let n = notifier(&s, None);
    let alice = user(&s.store, "alice@example.test").await;
    s.store
        .set_contact(
            alice,
            Channel::Email,
            Some("alice@home.test"),
            ContactSource::Admin,
        )
        .await
        .expect("set");
    s.store
        .set_contact(
            alice,
            Channel::Sms,
            Some("+33611111111"),
            ContactSource::Admin,
        )
        .await
        .expect("set");
    change(&s, s.example, Mode::Normal, Mode::Outage).await;
    n.work().await.expect("work");
    let c = login(&svc, "admin@example.test", "continuity-admin").await;
    let csrf = s.auth.admin_session(c.value()).await.expect("s").csrf;
    let req = TestRequest::get()
        .uri("/admin/d/example.test/continuity")
        .cookie(c.clone())
        .to_request();
    let page = String::from_utf8_lossy(&test::read_body(test::call_service(&svc, req).await).await)
        .into_owned();
    assert!(
        page.contains("data-notice=\"alice@example.test:start:email\""),
        "{page}"
    );
    assert!(
        page.contains("data-notice=\"alice@example.test:start:sms\" data-status=\"skipped\""),
        "{page}"
    );
    // the domain admin of example.test cannot touch other.test's switches
    let req = TestRequest::post()
        .uri("/admin/d/other.test/continuity/notify")
        .cookie(c.clone())
        .set_form([("csrf", csrf.as_str()), ("users", "on")])
        .to_request();
    let r = test::call_service(&svc, req).await;
    assert_eq!(r.status(), 404);
    // off for example.test, audited
    let req = TestRequest::post()
        .uri("/admin/d/example.test/continuity/notify")
        .cookie(c.clone())
        .set_form([("csrf", csrf.as_str())])
        .to_request();
    let r = test::call_service(&svc, req).await;
    assert_eq!(
        location(&r),
        "/admin/d/example.test/continuity?done=notify#notices-section"
    );
    assert_eq!(
        s.store.notify_settings(s.example).await.expect("q"),
        (false, false)
    );
    let audit = s.store.audit_log(s.example, 5).await.expect("q");
    assert!(
        audit.iter().any(|a| a.action == "notify_users"),
        "{audit:?}"
    );
}

#[actix_web::test]
async fn the_directory_fills_contact_points_but_never_a_users_own() {
    use server::dirsync::{contacts::apply, plan::ContactEntry};
    let s = setup("notify-dir").await;
    let (alice, bob, carol) = (
        user(&s.store, "alice@example.test").await,
        user(&s.store, "bob@example.test").await,
        user(&s.store, "carol@example.test").await,
    );
    s.store
        .set_contact(
            alice,
            Channel::Email,
            Some("alice@mine.test"),
            ContactSource::User,
        )
        .await
        .expect("set");
    s.store
        .set_contact(
            bob,
            Channel::Sms,
            Some("+33600000002"),
            ContactSource::Admin,
        )
        .await
        .expect("set");
    let entry = |a: &str, m: Option<&str>, e: Option<&str>| ContactEntry {
        address: a.into(),
        mobile: m.map(str::to_string),
        alt_email: e.map(str::to_string),
    };
    let dir = [
        entry(
            "alice@example.test",
            Some("+33 6 00 00 00 01"),
            Some("alice@corp-home.test"),
        ),
        entry(
            "bob@example.test",
            Some("+33600000099"),
            Some("not an address"),
        ),
        entry("carol@example.test", Some("+33600000003"), None),
    ];
    let (changed, warnings) = apply(&s.store, &dir, ContactSource::Directory)
        .await
        .expect("apply");
    assert_eq!(changed, 2, "alice's mobile, carol's mobile");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let a = s.store.contact_points(alice).await.expect("q");
    assert_eq!(
        a.alt_email.expect("kept").value,
        "alice@mine.test",
        "her own stays"
    );
    let m = a.mobile.expect("from the directory");
    assert_eq!(
        (m.value.as_str(), m.source.as_str(), m.verified),
        ("+33600000001", "directory", true)
    );
    let b = s.store.contact_points(bob).await.expect("q");
    assert_eq!(
        b.mobile.expect("kept").value,
        "+33600000002",
        "the admin's stays"
    );
    // a second run with the same data changes nothing
    let (changed, _) = apply(&s.store, &dir, ContactSource::Directory)
        .await
        .expect("apply");
    assert_eq!(changed, 0);
    // gone from the directory: the directory's own point goes
    let (changed, _) = apply(
        &s.store,
        &[entry("carol@example.test", None, None)],
        ContactSource::Directory,
    )
    .await
    .expect("apply");
    assert_eq!(changed, 1);
    assert!(s
        .store
        .contact_points(carol)
        .await
        .expect("q")
        .mobile
        .is_none());
    // an administrator's file replaces an administrator's point, not the user's
    let (changed, _) = apply(
        &s.store,
        &[
            entry("bob@example.test", Some("+33600000022"), None),
            entry("alice@example.test", None, Some("alice@csv.test")),
        ],
        ContactSource::Admin,
    )
    .await
    .expect("apply");
    assert_eq!(changed, 1);
    assert_eq!(
        s.store
            .contact_points(bob)
            .await
            .expect("q")
            .mobile
            .expect("set")
            .value,
        "+33600000022"
    );
    assert_eq!(
        s.store
            .contact_points(alice)
            .await
            .expect("q")
            .alt_email
            .expect("set")
            .value,
        "alice@mine.test"
    );
}
