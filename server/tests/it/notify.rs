//! Users told of starts and ends (issue 21, item 1), in process against a
//! small HTTP receiver standing for the SMS gateway (its signature
//! checked): each covered user told once per event on each verified
//! channel, in their language, with the webmail's address and no secret;
//! a flapping primary sends nothing more within the quiet period; an
//! uncovered user, an unproved entry and a drill get nothing; a backup
//! address in the failing domain is never used; the SMS cap and the
//! Control Panel's resend. Where users can be reached (contact points
//! and their proofs): `notify_contacts.rs`.

use actix_web::test::{self, TestRequest};
use server::monitor::state::Mode;
use server::store::contacts::{Channel, ContactSource};
use server::store::notices::NoticeStatus;

use crate::common::control::*;
use crate::common::notify::*;

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
