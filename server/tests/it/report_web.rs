//! The outage's aftermath on the web: the held queue, the webhook and the
//! reconciliation report in the Control Panel, and each user's own line of
//! the report on their Settings page (never anyone else's).

use crate::common;

use actix_web::test::{self, TestRequest};
use common::control::{app, setup, PW};

/// Mail held during an outage shows in the Control Panel (held queue and
/// reconciliation report) and, for each user, only their own line.
#[actix_web::test]
async fn the_held_queue_and_the_reconciliation_report_are_shown_to_whom_they_concern() {
    let s = setup("cp-report").await;
    let svc = app(&s).await;
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
    for (i, rcpt) in [
        "alice@example.test",
        "alice@example.test",
        "bob@example.test",
    ]
    .into_iter()
    .enumerate()
    {
        use server::directory::{RcptVerdict, RecipientPolicy};
        let RcptVerdict::Accept { domain, user } = snap.check(rcpt) else {
            panic!("{rcpt}");
        };
        let raw = format!("From: x@remote.test\r\nTo: {rcpt}\r\nSubject: n{i}\r\n\r\nx\r\n");
        s.store
            .ingest(server::store::NewMessage {
                origin: server::store::Origin::Smtp,
                mail_from: "x@remote.test".into(),
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
    }
    let login = |addr: &'static str| {
        TestRequest::post()
            .uri("/auth/login")
            .peer_addr("127.0.0.1:1".parse().expect("addr"))
            .set_form([("address", addr), ("password", PW)])
            .to_request()
    };
    let get = |path: &str, c: &actix_web::cookie::Cookie<'static>| {
        TestRequest::get()
            .uri(path)
            .cookie(c.clone())
            .insert_header(("accept", "text/html"))
            .insert_header(("accept-language", "en"))
            .to_request()
    };
    let r = test::call_service(&svc, login("admin@example.test")).await;
    let admin = r
        .response()
        .cookies()
        .find(|c| c.name() == "continuity-admin")
        .expect("admin cookie")
        .into_owned();
    let page = String::from_utf8_lossy(
        &test::read_body(
            test::call_service(&svc, get("/admin/d/example.test/continuity", &admin)).await,
        )
        .await,
    )
    .replace("<!>", ""); // hydration markers
    assert!(
        page.contains(r#"id="held-queue" data-waiting="3""#),
        "{page}"
    );
    assert!(page.contains("Last outage: reconciliation"));
    // an outage still going on reads as one (not "from … to ongoing")
    assert!(
        page.contains(r#"<p id="report-window" class="muted">Since "#)
            && page.contains(", ongoing</p>"),
        "{page}"
    );
    let fr = TestRequest::get()
        .uri("/admin/d/example.test/continuity")
        .cookie(admin.clone())
        .insert_header(("accept", "text/html"))
        .insert_header(("accept-language", "fr"))
        .to_request();
    let page_fr =
        String::from_utf8_lossy(&test::read_body(test::call_service(&svc, fr).await).await)
            .replace("<!>", "");
    assert!(
        page_fr.contains(r#"id="report-window" class="muted">Depuis le "#)
            && page_fr.contains(", en cours</p>"),
        "{page_fr}"
    );
    assert!(!page_fr.contains(" au en cours"));
    // the webhook and its notification (no sender runs here: still to send)
    assert!(page.contains("<code>https://hooks.example.com/continuity</code>"));
    assert!(
        page.contains("<code>outage.started</code> · retrying (0 attempts)"),
        "{page}"
    );
    for (who, held) in [("alice@example.test", 2), ("bob@example.test", 1)] {
        let row = format!(
            r#"<tr data-user="{who}"><td>{who}</td><td>{held}</td><td>0</td><td>{held}</td>"#
        );
        assert!(page.contains(&row), "{row} in the report: {page}");
    }

    // alice sees her own line, and nobody else's
    let r = test::call_service(&svc, login("alice@example.test")).await;
    let alice = r
        .response()
        .cookies()
        .find(|c| c.name() == "continuity")
        .expect("user cookie")
        .into_owned();
    let page = String::from_utf8_lossy(
        &test::read_body(test::call_service(&svc, get("/settings", &alice)).await).await,
    )
    .replace("<!>", "");
    assert!(page.contains(r#"id="my-report""#), "{page}");
    assert!(page.contains(r#"data-count="held">2<"#), "{page}");
    assert!(page.contains(r#"data-count="pending">2<"#));
    assert!(!page.contains("bob@example.test"));
    // and no Control Panel
    assert_eq!(
        test::call_service(&svc, get("/admin/d/example.test/continuity", &alice))
            .await
            .status()
            .as_u16()
            / 100,
        3
    );
}

/// The continuity timeline reads in the viewer's language: the states by
/// their names, why they changed in words, and a probe's technical error
/// only behind a "details" disclosure.
#[actix_web::test]
async fn the_timeline_says_why_in_the_viewers_language() {
    use app::backend::Reason;
    let s = setup("cp-timeline").await;
    let svc = app(&s).await;
    let failed = Reason::Failures {
        n: 2,
        last: "connect/banner/EHLO: Connection error: Connection refused (os error 111)".into(),
    };
    for (from, to, why) in [
        ("normal", "outage", failed.to_string()),
        (
            "outage",
            "recovering",
            Reason::Successes { n: 3 }.to_string(),
        ),
        (
            "recovering",
            "normal",
            Reason::HeldMailDelivered.to_string(),
        ),
    ] {
        s.store
            .transition(s.example, from, to, &why, false, None)
            .await
            .expect("transition");
    }
    let r = test::call_service(
        &svc,
        TestRequest::post()
            .uri("/auth/login")
            .peer_addr("127.0.0.1:1".parse().expect("addr"))
            .set_form([("address", "admin@example.test"), ("password", PW)])
            .to_request(),
    )
    .await;
    let admin = r
        .response()
        .cookies()
        .find(|c| c.name() == "continuity-admin")
        .expect("admin cookie")
        .into_owned();
    let page = |lang: &'static str| {
        TestRequest::get()
            .uri("/admin/d/example.test/continuity")
            .cookie(admin.clone())
            .insert_header(("accept", "text/html"))
            .insert_header(("accept-language", lang))
            .to_request()
    };
    let read = |r| async move {
        String::from_utf8_lossy(&test::read_body(r).await)
            .replace("<!>", "")
            .replace("<!---->", "")
    };
    let fr = read(test::call_service(&svc, page("fr")).await).await;
    let timeline = fr
        .split(r#"id="timeline""#)
        .nth(1)
        .and_then(|t| t.split("</ul>").next())
        .expect("the timeline")
        .to_string();
    for said in [
        "normal → panne · 2 échecs consécutifs",
        "<summary>détails</summary><code>connect/banner/EHLO: Connection error: Connection refused (os error 111)</code>",
        "panne → reprise · 3 tests réussis consécutifs",
        "reprise → normal · courriels conservés distribués",
    ] {
        assert!(timeline.contains(said), "{said} in {timeline}");
    }
    // outside the disclosure, no English
    let outside: String = timeline
        .split("<details")
        .map(|part| part.split("</details>").last().unwrap_or(""))
        .collect();
    for english in [
        "consecutive",
        "outage",
        "recovering",
        "delivered",
        "successful",
    ] {
        assert!(!outside.contains(english), "{english} in {outside}");
    }
    let en = read(test::call_service(&svc, page("en")).await).await;
    assert!(en.contains("normal → outage · 2 failures in a row"), "{en}");
    assert!(en.contains("<summary>details</summary>"), "{en}");
    assert!(
        en.contains("recovering → normal · held mail delivered"),
        "{en}"
    );
}
