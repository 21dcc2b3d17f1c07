//! Where users can be reached when their mail is down, over HTTP and in
//! the store, in process: a user's own backup address counts once the
//! mailed link proves it, a mobile once the texted code does (five
//! tries); the directory fills and clears its own contact points but
//! never overwrites a user's own. The notices themselves: `notify.rs`.

use actix_web::test::{self, TestRequest};
use server::store::contacts::{Channel, ContactSource};

use crate::common::control::*;
use crate::common::notify::*;

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
