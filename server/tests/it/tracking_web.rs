//! Email Live Tracking through the web routes, by role: an operator sees
//! everything, a domain admin their domains only (pages, the message story,
//! .eml download, redelivery and CSV all tried across domains), a user
//! their own mail; the CSV is streamed, escaped and formula-safe.

use crate::common;

use actix_web::test::{self, TestRequest};
use common::control::{app, location, setup, Setup, PW};
use server::directory::{RcptVerdict, RecipientPolicy};
use server::store::{now_ms, MessageId, NewMessage, NewRecipient, Origin, Outcome, Summary};

async fn ingest(s: &Setup, rcpt: &str, subject: &str) -> MessageId {
    let snap = s.store.directory_snapshot().await.expect("snapshot");
    let RcptVerdict::Accept { domain, user } = snap.check(rcpt) else {
        panic!("{rcpt}");
    };
    let raw = format!("From: \"Mallory, Inc\" <m@remote.test>\r\nTo: {rcpt}\r\nSubject: {subject}\r\n\r\nbody\r\n");
    s.store
        .ingest(NewMessage {
            origin: Origin::Smtp,
            mail_from: "m@remote.test".into(),
            client_ip: Some("192.0.2.7".into()),
            helo: Some("mx.remote.test".into()),
            tls: false,
            summary: Summary::parse(raw.as_bytes()),
            raw: raw.into_bytes(),
            recipients: vec![NewRecipient {
                rcpt: rcpt.into(),
                domain: Some(domain),
                user,
            }],
            in_reply_to: None,
            sign_as: None,
        })
        .await
        .expect("ingest")
}

#[actix_web::test]
async fn live_tracking_pages_csv_download_and_redelivery_by_role() {
    let s = setup("tracking-web").await;
    let ours = ingest(&s, "alice@example.test", "=cmd|' /C calc'!A0, \"quoted\"").await;
    let theirs = ingest(&s, "dave@other.test", "Other domain secret").await;
    for c in s
        .store
        .claim_due("test", 10, now_ms() + 1)
        .await
        .expect("claim")
    {
        s.store
            .record_outcome(
                &c,
                Outcome::Delivered {
                    reply: "250 2.0.0 Ok".into(),
                    remote: "primary".into(),
                },
            )
            .await
            .expect("outcome");
    }
    let svc = app(&s).await;
    let login = |addr: &'static str| {
        TestRequest::post()
            .uri("/auth/login")
            .peer_addr("127.0.0.1:1".parse().expect("addr"))
            .set_form([("address", addr), ("password", PW)])
            .to_request()
    };
    let cookie = |r: &actix_web::dev::ServiceResponse<_>, name: &str| {
        r.response()
            .cookies()
            .find(|c| c.name() == name)
            .map(|c| c.into_owned())
    };
    let r = test::call_service(&svc, login("admin@example.test")).await;
    let admin = cookie(&r, "continuity-admin").expect("admin cookie");
    let r = test::call_service(&svc, login("ops@provider.test")).await;
    let ops = cookie(&r, "continuity-admin").expect("ops cookie");
    let get = |path: &str, c: &actix_web::cookie::Cookie<'static>| {
        TestRequest::get()
            .uri(path)
            .cookie(c.clone())
            .insert_header(("accept", "text/html"))
            .insert_header(("accept-language", "en"))
            .to_request()
    };
    let body =
        |r| async move { String::from_utf8_lossy(&test::read_body(r).await).replace("<!>", "") };

    // the domain admin's list: their domain only
    let page = body(test::call_service(&svc, get("/admin/tracking", &admin)).await).await;
    assert!(page.contains("alice@example.test"), "{page}");
    assert!(!page.contains("dave@other.test"));
    assert!(!page.contains("Other domain secret"));
    // another domain by filter: refused
    let page =
        body(test::call_service(&svc, get("/admin/tracking?domain=other.test", &admin)).await)
            .await;
    assert!(!page.contains("dave@other.test"));
    assert!(page.contains("There is nothing at this address"), "{page}");
    // the operator sees both; filters are in the URL
    let page = body(
        test::call_service(
            &svc,
            get("/admin/tracking?recipient=dave%40other.test", &ops),
        )
        .await,
    )
    .await;
    assert!(page.contains("dave@other.test") && !page.contains("alice@example.test"));

    // a message's story: theirs is "not found" for the domain admin
    let page =
        body(test::call_service(&svc, get(&format!("/admin/tracking/m/{}", ours.0), &admin)).await)
            .await;
    assert!(page.contains(r#"id="message-timeline""#), "{page}");
    assert!(page.contains("Delivered"));
    let page = body(
        test::call_service(
            &svc,
            get(&format!("/admin/tracking/m/{}", theirs.0), &admin),
        )
        .await,
    )
    .await;
    assert!(!page.contains("Other domain secret"), "{page}");
    for (path, who, status) in [
        (format!("/admin/tracking/m/{}/raw", ours.0), &admin, 200),
        (format!("/admin/tracking/m/{}/raw", theirs.0), &admin, 404),
        (format!("/admin/tracking/m/{}/raw", theirs.0), &ops, 200),
        ("/admin/tracking/m/999999/raw".to_string(), &ops, 404),
    ] {
        let r = test::call_service(&svc, get(&path, who)).await;
        assert_eq!(r.status().as_u16(), status, "{path}");
    }

    // redelivery: CSRF, scope, then done
    let deliveries = s.store.deliveries_of(theirs).await.expect("d");
    let admin_csrf = s.auth.admin_session(admin.value()).await.expect("s").csrf;
    let post = |path: String, c: &actix_web::cookie::Cookie<'static>, csrf: &str| {
        TestRequest::post()
            .uri(&path)
            .cookie(c.clone())
            .set_form([("csrf", csrf)])
            .to_request()
    };
    let r = test::call_service(
        &svc,
        post(
            format!("/admin/tracking/d/{}/redeliver", deliveries[0].id.0),
            &admin,
            &admin_csrf,
        ),
    )
    .await;
    assert_eq!(r.status(), 404, "another domain's delivery");
    let mine = s.store.deliveries_of(ours).await.expect("d");
    let r = test::call_service(
        &svc,
        post(
            format!("/admin/tracking/d/{}/redeliver", mine[0].id.0),
            &admin,
            "forged",
        ),
    )
    .await;
    assert_eq!(r.status(), 403);
    let r = test::call_service(
        &svc,
        post(
            format!("/admin/tracking/d/{}/redeliver", mine[0].id.0),
            &admin,
            &admin_csrf,
        ),
    )
    .await;
    assert_eq!(
        location(&r),
        format!("/admin/tracking/m/{}?done=redeliver", ours.0)
    );
    assert_eq!(
        s.store.deliveries_of(ours).await.expect("d")[0].status,
        "queued"
    );

    // CSV: streamed, escaped, formula-safe, within the scope
    let r = test::call_service(&svc, get("/admin/tracking.csv", &admin)).await;
    assert_eq!(r.status(), 200);
    assert!(r
        .headers()
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("attachment")));
    let csv = body(r).await;
    let mut lines = csv.split("\r\n");
    assert!(lines
        .next()
        .is_some_and(|h| h.starts_with("time,direction,sender,recipient,subject")));
    assert!(
        csv.contains(r#""'=cmd|' /C calc'!A0, ""quoted""""#),
        "{csv}"
    );
    assert!(!csv.contains("dave@other.test"));
    let r = test::call_service(&svc, get("/admin/tracking.csv?domain=other.test", &admin)).await;
    assert_eq!(r.status(), 404);
    let r = test::call_service(&svc, get("/admin/tracking.csv?status=lost", &admin)).await;
    assert_eq!(r.status(), 400);

    // a user: their own mail in the webmail, no Control Panel routes
    let r = test::call_service(&svc, login("alice@example.test")).await;
    let alice = cookie(&r, "continuity").expect("user cookie");
    let page = body(test::call_service(&svc, get("/mail/tracking", &alice)).await).await;
    assert!(page.contains("alice@example.test"), "{page}");
    assert!(!page.contains("dave@other.test"));
    for path in [
        "/admin/tracking.csv".to_string(),
        format!("/admin/tracking/m/{}/raw", ours.0),
    ] {
        let r = test::call_service(&svc, get(&path, &alice)).await;
        assert!(
            matches!(r.status().as_u16(), 303 | 404),
            "{path}: {}",
            r.status()
        );
    }
}

#[actix_web::test]
async fn a_set_password_invitation_cannot_be_downloaded_by_an_administrator() {
    let s = setup("tracking-invite").await;
    let bob = s
        .store
        .account_by_address("bob@example.test")
        .await
        .expect("q")
        .expect("bob");
    let link = s.auth.issue_link(bob.user).await.expect("link");
    let invitation = server::auth::invite::send(&s.store, &bob, &link, "mx.continuity.test", 7)
        .await
        .expect("invitation");
    let ordinary = ingest(&s, "bob@example.test", "an ordinary message").await;
    let svc = app(&s).await;
    for who in ["admin@example.test", "ops@provider.test"] {
        let req = TestRequest::post()
            .uri("/auth/login")
            .peer_addr("127.0.0.1:1".parse().expect("addr"))
            .set_form([("address", who), ("password", PW)])
            .to_request();
        let r = test::call_service(&svc, req).await;
        let cookie = r
            .response()
            .cookies()
            .find(|c| c.name() == "continuity-admin")
            .expect("admin session")
            .into_owned();
        let get = |path: String| {
            TestRequest::get()
                .uri(&path)
                .cookie(cookie.clone())
                .to_request()
        };
        let r =
            test::call_service(&svc, get(format!("/admin/tracking/m/{}/raw", invitation.0))).await;
        assert_eq!(r.status(), 403, "{who}");
        let body = test::read_body(r).await;
        let token = link.rsplit('=').next().expect("token");
        assert!(!String::from_utf8_lossy(&body).contains(token), "{who}");
        // its story is there; other mail downloads as before
        let r =
            test::call_service(&svc, get(format!("/admin/tracking/m/{}/raw", ordinary.0))).await;
        assert_eq!(r.status(), 200, "{who}");
    }
    // the invitation itself still goes to bob's primary, link and all
    let raw = s
        .store
        .raw_message(invitation)
        .await
        .expect("q")
        .expect("raw");
    let text = mail_parser::MessageParser::default()
        .parse(&raw)
        .and_then(|m| m.body_text(0).map(|t| t.into_owned()))
        .expect("text");
    assert!(text.contains(&link), "{text}");
}
