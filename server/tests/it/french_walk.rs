//! The French UI reads in French everywhere: every page of the webmail and
//! of the Control Panel — in an outage, with a timeline, a webhook that
//! failed, a directory run that failed, and forms refused for real — is
//! walked in French, and the test fails on any text that is in the English
//! language files and not in the French ones, or that reads as English
//! (a raw error from a library or a probe). Technical details are allowed
//! only behind a "détails" disclosure, and values the user typed or the
//! service names (addresses, URLs, commands) only in `<code>`.

use crate::common;

use actix_web::test::{self, TestRequest};
use common::control::{app, location, login, setup, PW};

/// Every fixed text of one language, from all its files.
fn language(files: [serde_json::Value; 6]) -> std::collections::HashSet<String> {
    files
        .into_iter()
        .flat_map(|v| match v {
            serde_json::Value::Object(m) => m
                .into_iter()
                .filter_map(|(_, v)| v.as_str().map(|s| s.trim().to_string()))
                .collect::<Vec<_>>(),
            _ => Vec::new(),
        })
        .filter(|s| !s.is_empty())
        .collect()
}

/// The texts a person reads on a page: text nodes and the attributes a
/// screen reader says, outside scripts, styles, `<code>` and the
/// "details" disclosures.
fn texts(html: &str) -> Vec<String> {
    let mut html = html.to_string();
    for (open, close) in [
        ("<script", "</script>"),
        ("<style", "</style>"),
        ("<details", "</details>"),
        ("<code", "</code>"),
        ("<!--", "-->"),
        ("<textarea", "</textarea>"),
    ] {
        while let Some(a) = html.find(open) {
            let Some(b) = html[a..].find(close) else {
                break;
            };
            html.replace_range(a..a + b + close.len(), " ");
        }
    }
    let decode = |s: &str| {
        s.replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&#x27;", "'")
            .trim()
            .to_string()
    };
    let mut out = Vec::new();
    let mut rest = html.as_str();
    while let Some(lt) = rest.find('<') {
        let text = decode(&rest[..lt]);
        if !text.is_empty() {
            out.push(text);
        }
        let Some(gt) = rest[lt..].find('>') else {
            break;
        };
        let tag = &rest[lt..lt + gt];
        for attr in ["aria-label=\"", "title=\"", "placeholder=\"", "alt=\""] {
            if let Some(i) = tag.find(attr) {
                let v = &tag[i + attr.len()..];
                if let Some(end) = v.find('"') {
                    let v = decode(&v[..end]);
                    if !v.is_empty() {
                        out.push(v);
                    }
                }
            }
        }
        rest = &rest[lt + gt + 1..];
    }
    let tail = decode(rest);
    if !tail.is_empty() {
        out.push(tail);
    }
    out
}

/// Words no French sentence has: a text with one of them is English.
const ENGLISH: [&str; 22] = [
    "the",
    "is",
    "are",
    "was",
    "not",
    "and",
    "of",
    "with",
    "to",
    "from",
    "for",
    "error",
    "failed",
    "refused",
    "cannot",
    "connection",
    "timed",
    "invalid",
    "unavailable",
    "denied",
    "found",
    "consecutive",
];

#[actix_web::test]
async fn every_french_page_reads_in_french() {
    use app::i18n::*;
    let en = language([
        serde_json::to_value(&EN).expect("en"),
        serde_json::to_value(&ADMIN_EN).expect("en"),
        serde_json::to_value(&OUTBOUND_EN).expect("en"),
        serde_json::to_value(&TRACKING_EN).expect("en"),
        serde_json::to_value(&SECURITY_EN).expect("en"),
        serde_json::to_value(&NOTIFY_EN).expect("en"),
    ]);
    let fr = language([
        serde_json::to_value(&FR).expect("fr"),
        serde_json::to_value(&ADMIN_FR).expect("fr"),
        serde_json::to_value(&OUTBOUND_FR).expect("fr"),
        serde_json::to_value(&TRACKING_FR).expect("fr"),
        serde_json::to_value(&SECURITY_FR).expect("fr"),
        serde_json::to_value(&NOTIFY_FR).expect("fr"),
    ]);
    let english_only: Vec<&String> = en.iter().filter(|s| !fr.contains(*s)).collect();
    assert!(
        english_only.len() > 300,
        "the files were read: {}",
        english_only.len()
    );

    // an outage with its history: failures, a held message, a webhook that
    // failed, a directory whose last run failed
    let s = setup("french-walk").await;
    let svc = app(&s).await;
    use app::backend::Reason;
    s.store
        .transition(
            s.example,
            "normal",
            "outage",
            &Reason::Failures {
                n: 2,
                last: "connect/banner/EHLO: Connection error: Connection refused (os error 111)"
                    .into(),
            }
            .to_string(),
            false,
            None,
        )
        .await
        .expect("transition");
    s.store
        .set_webhook(
            s.example,
            Some("https://hooks.example.com/continuity"),
            false,
        )
        .await
        .expect("webhook");
    server::monitor::command(
        &s.store,
        "mx",
        s.example,
        server::monitor::state::Input::ActivateNow { by: "ops".into() },
    )
    .await
    .expect("activate");
    let snap = s.store.directory_snapshot().await.expect("snapshot");
    let mut ids = Vec::new();
    for (i, rcpt) in ["alice@example.test", "alice@example.test"]
        .into_iter()
        .enumerate()
    {
        use server::directory::{RcptVerdict, RecipientPolicy};
        let RcptVerdict::Accept { domain, user } = snap.check(rcpt) else {
            panic!("{rcpt}");
        };
        let raw = format!(
            "From: Paul Dupont <paul@remote.test>\r\nTo: {rcpt}\r\nSubject: Devis {i}\r\n\r\nBonjour.\r\n"
        );
        let out = s
            .store
            .ingest(server::store::NewMessage {
                origin: server::store::Origin::Smtp,
                mail_from: "paul@remote.test".into(),
                client_ip: None,
                helo: None,
                tls: false,
                summary: server::store::Summary::parse(raw.as_bytes()),
                raw: raw.into_bytes(),
                recipients: vec![server::store::NewRecipient {
                    rcpt: rcpt.into(),
                    domain: Some(domain),
                    user,
                }],
                in_reply_to: None,
                sign_as: None,
            })
            .await
            .expect("ingest");
        ids.push(out);
    }
    let dir = server::store::directories::DirectoryConfig {
        domain: s.example,
        url: "ldaps://dc.example.test".into(),
        starttls: false,
        ca_file: None,
        bind_dn: "cn=reader".into(),
        bind_password_file: None,
        base_dn: "dc=example,dc=test".into(),
        user_filter: "(mail=*)".into(),
        group_dn: None,
        flavor: "openldap".into(),
        interval_s: 3600,
        max_disable_pct: 20,
        allow_plaintext: false,
        mobile_attr: "mobile".into(),
        alt_email_attr: "otherMailbox".into(),
    };
    s.store.set_directory(&dir).await.expect("directory");
    s.store
        .record_sync(
            s.example,
            false,
            "cannot reach the directory: Connection refused",
            None,
        )
        .await
        .expect("sync");

    let user = login(&svc, "alice@example.test", "continuity").await;
    let admin = login(&svc, "admin@example.test", "continuity-admin").await;
    let csrf = s.auth.admin_session(admin.value()).await.expect("s").csrf;
    let get = |cookie: Option<&actix_web::cookie::Cookie<'static>>, path: &str| {
        let mut r = TestRequest::get()
            .uri(path)
            .insert_header(("accept", "text/html"))
            .insert_header(("accept-language", "fr"));
        if let Some(c) = cookie {
            r = r.cookie(c.clone());
        }
        r.to_request()
    };
    let post = |path: &str, fields: Vec<(&str, String)>| {
        TestRequest::post()
            .uri(path)
            .cookie(admin.clone())
            .set_form(fields)
            .to_request()
    };
    let list = String::from_utf8_lossy(
        &test::read_body(test::call_service(&svc, get(Some(&user), "/mail/inbox")).await).await,
    )
    .into_owned();
    let message = list
        .split("href=\"/mail/m/")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .map(|id| format!("/mail/m/{id}"))
        .expect("a message in the list");

    // forms refused for real: the pages they lead to are walked too
    let base = "/admin/d/example.test";
    let mut refused = Vec::new();
    for (path, fields) in [
        (
            format!("{base}/outbound/networks"),
            vec![(
                "networks",
                "0.0.0.0/0\nmail.example.test\n127.0.0.1".to_string(),
            )],
        ),
        (
            format!("{base}/outbound/dkim/new"),
            vec![
                ("algorithm", "dsa".to_string()),
                ("selector", String::new()),
            ],
        ),
        (
            format!("{base}/outbound/dkim/new"),
            vec![
                ("algorithm", "rsa".to_string()),
                ("selector", "a b".to_string()),
            ],
        ),
        (
            format!("{base}/directory/settings"),
            vec![
                ("url", "http://dc".to_string()),
                ("bind_dn", String::new()),
                ("base_dn", "dc=x".to_string()),
                ("user_filter", "(mail=*)".to_string()),
                ("flavor", "openldap".to_string()),
                ("interval_min", "60".to_string()),
                ("max_disable_pct", "20".to_string()),
            ],
        ),
        (
            format!("{base}/directory/settings"),
            vec![
                ("url", "ldaps://dc".to_string()),
                ("bind_dn", String::new()),
                ("base_dn", "dc=x".to_string()),
                ("user_filter", "mail=*".to_string()),
                ("flavor", "openldap".to_string()),
                ("interval_min", "60".to_string()),
                ("max_disable_pct", "20".to_string()),
            ],
        ),
        (format!("{base}/directory/test"), vec![]),
        (
            format!("{base}/continuity/webhook"),
            vec![
                ("action", "save".to_string()),
                ("url", "https://127.0.0.1/x".to_string()),
            ],
        ),
        (
            format!("{base}/continuity/webhook"),
            vec![
                ("action", "save".to_string()),
                ("url", "http://hooks.example.com/".to_string()),
            ],
        ),
        (
            format!("{base}/continuity/primary"),
            vec![
                ("host", "10.9.8.7".to_string()),
                ("port", "25".to_string()),
                ("tls", "none".to_string()),
                ("interval", "30".to_string()),
                ("timeout", "10".to_string()),
                ("fail_after", "2".to_string()),
                ("recover_after", "2".to_string()),
                ("probe_rcpt", String::new()),
            ],
        ),
        (
            format!("{base}/continuity/users/add"),
            vec![("address", "nobody@example.test".to_string())],
        ),
    ] {
        let mut fields = fields;
        fields.push(("csrf", csrf.clone()));
        let r = test::call_service(&svc, post(&path, fields)).await;
        let to = location(&r);
        assert!(
            to.contains("e=") || to.contains("=fail"),
            "{path}: refused ({to})"
        );
        refused.push(to);
    }

    let mut pages: Vec<(bool, String)> = [
        "/login",
        "/login?error=invalid",
        "/login?error=throttled",
        "/login?expired=1",
        "/login?error=expired",
        "/login/code?error=wrong",
        "/login/code?error=throttled",
        "/login/enrol?error=wrong",
        "/set-password?token=nope",
        "/no/such/page",
    ]
    .into_iter()
    .map(|p| (false, p.to_string()))
    .collect();
    for p in [
        "/mail/inbox",
        &message,
        "/mail/search?q=Devis",
        "/mail/search?q=zzzz",
        "/mail/compose",
        "/mail/compose?e=address&why=pas%20une%20adresse",
        "/mail/compose?e=norcpt",
        "/mail/compose?e=notcovered",
        "/mail/drafts",
        "/mail/sent",
        "/mail/trash",
        "/mail/trash?confirm=empty",
        "/mail/tracking",
        "/settings",
        "/settings?e=short,mismatch",
        "/settings?e=wrong&setup=1",
        "/settings?done=revoked",
        "/status",
    ] {
        pages.push((true, p.to_string()));
    }
    let admin_pages: Vec<String> = [
        "/admin",
        "/admin/d/example.test/continuity",
        "/admin/d/example.test/continuity?confirm=deactivate",
        "/admin/d/example.test/continuity?tested=fail&reply=Connection%20refused%20(os%20error%20111)",
        "/admin/d/example.test/directory",
        "/admin/d/example.test/outbound",
        "/admin/d/example.test/outbound?dns=failed&detail=no%20answer%20from%20the%20name%20server",
        "/admin/tracking",
    ]
    .into_iter()
    .map(str::to_string)
    .chain(refused)
    .collect();

    let mut found = Vec::new();
    let mut walked = 0;
    let mut check = |path: &str, html: &str| {
        walked += 1;
        // a disclosure inside a paragraph is moved out of it by the
        // browser's parser (and the page no longer hydrates as rendered)
        for (at, _) in html.match_indices("<details") {
            let before = &html[..at];
            let open = before.rfind("<p ").max(before.rfind("<p>"));
            if open.is_some() && open > before.rfind("</p>") {
                found.push(format!("{path}: a <details> inside a <p>"));
            }
        }
        for text in texts(html) {
            if english_only.iter().any(|e| **e == text) {
                found.push(format!("{path}: English UI text {text:?}"));
                continue;
            }
            if let Some(e) = english_only
                .iter()
                .find(|e| e.split_whitespace().count() >= 3 && text.contains(e.as_str()))
            {
                found.push(format!("{path}: English UI text {e:?} in {text:?}"));
                continue;
            }
            let lower = text.to_lowercase();
            if let Some(w) = lower
                .split(|c: char| !c.is_alphanumeric())
                .find(|w| ENGLISH.contains(w))
            {
                found.push(format!("{path}: English ({w:?}) in {text:?}"));
            }
        }
    };
    for (as_user, path) in &pages {
        let r = test::call_service(&svc, get(as_user.then_some(&user), path)).await;
        let html = String::from_utf8_lossy(&test::read_body(r).await).into_owned();
        check(path, &html);
    }
    for path in &admin_pages {
        let r = test::call_service(&svc, get(Some(&admin), path)).await;
        assert!(r.status().is_success(), "{path}: {}", r.status());
        let html = String::from_utf8_lossy(&test::read_body(r).await).into_owned();
        check(path, &html);
    }
    let _ = (PW, ids);
    assert!(walked >= 30, "{walked} pages");
    assert!(
        found.is_empty(),
        "{} texts:\n{}",
        found.len(),
        found.join("\n")
    );
}
