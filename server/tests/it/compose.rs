//! Sending from the webmail through the real routes: the form, CSRF, From
//! forgery and header injection refused (kept as a draft, nothing sent),
//! local and outbound recipients, Bcc only in the envelope, Sent, and a
//! reply threaded from the user's own archived message.

use crate::common;

use actix_web::test::{self, TestRequest};
use common::control::{app, location, login, setup};
use server::directory::{RcptVerdict, RecipientPolicy};
use server::store::mailbox::Folder;
use server::store::{NewMessage, NewRecipient, Origin, Summary, UserId};

#[actix_web::test]
async fn compose_send_reply_and_refusals() {
    let s = setup("compose").await;
    // an inbound message for alice to reply to
    let snap = s.store.directory_snapshot().await.expect("snapshot");
    let RcptVerdict::Accept { domain, user } = snap.check("alice@example.test") else {
        panic!("alice");
    };
    let raw = "From: Xavier <x@remote.test>\r\nTo: alice@example.test, bob@example.test\r\n\
               Cc: carol@example.test\r\nSubject: Budget\r\nMessage-ID: <orig@remote.test>\r\n\
               References: <first@remote.test>\r\n\r\nCan we meet?\r\n";
    let orig = s
        .store
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
                domain: Some(domain),
                user,
            }],
            in_reply_to: None,
            sign_as: None,
        })
        .await
        .expect("ingest");
    let alice = UserId(user.expect("alice").0);
    let entry = s
        .store
        .mailbox_page(alice, Folder::Inbox, None, 10)
        .await
        .expect("inbox")
        .into_iter()
        .find(|e| e.message == orig)
        .expect("entry")
        .id;

    let svc = app(&s).await;
    let cookie = login(&svc, "alice@example.test", "continuity").await;
    let csrf = s.auth.session(cookie.value()).await.expect("session").csrf;
    let page = |path: &str| {
        TestRequest::get()
            .uri(path)
            .cookie(cookie.clone())
            .insert_header(("accept", "text/html"))
            .insert_header(("accept-language", "en"))
            .to_request()
    };
    let body =
        |r| async move { String::from_utf8_lossy(&test::read_body(r).await).replace("<!>", "") };
    let send = |fields: Vec<(&str, &str)>| {
        TestRequest::post()
            .uri("/mail/send")
            .cookie(cookie.clone())
            .set_form(fields)
            .to_request()
    };
    let queued = |s: server::store::Store| async move {
        s.claim_due("test", 100, server::store::now_ms() + 1)
            .await
            .expect("claim")
            .len()
    };
    // the inbound message is due for alice's primary: take it out of the way
    assert_eq!(queued(s.store.clone()).await, 1);

    // the form: her address and alias as senders
    let p = body(test::call_service(&svc, page("/mail/compose")).await).await;
    assert!(
        p.contains(r#"<option value="alice@example.test" selected>"#),
        "{p}"
    );
    assert!(p.contains(r#"<option value="a.martin@example.test">"#));
    // suggestions: who she corresponds with and her colleagues, not herself
    let contacts = p.split(r#"<datalist id="contacts">"#).nth(1).unwrap_or("");
    let contacts = contacts.split("</datalist>").next().unwrap_or("");
    assert!(contacts.contains(r#"value="x@remote.test""#), "{contacts}");
    assert!(contacts.contains(r#"value="bob@example.test""#));
    assert!(!contacts.contains("alice@example.test"));
    assert!(
        !contacts.contains("dave@other.test"),
        "another domain's users are not listed"
    );

    // forged CSRF: refused
    let r = test::call_service(
        &svc,
        send(vec![
            ("csrf", "forged"),
            ("action", "send"),
            ("from", "alice@example.test"),
            ("to", "bob@example.test"),
        ]),
    )
    .await;
    assert_eq!(r.status(), 403);

    // someone else's address as From: refused, kept as a draft
    let r = test::call_service(
        &svc,
        send(vec![
            ("csrf", &csrf),
            ("action", "send"),
            ("from", "ceo@example.test"),
            ("to", "bob@example.test"),
            ("subject", "Wire the money"),
            ("body", "now"),
        ]),
    )
    .await;
    let loc = location(&r);
    assert!(
        loc.starts_with("/mail/compose?draft=") && loc.contains("e=from"),
        "{loc}"
    );
    let p = body(test::call_service(&svc, page(&loc)).await).await;
    assert!(
        p.contains("You can only send from your own addresses"),
        "{p}"
    );
    assert!(
        p.contains(r#"value="Wire the money""#),
        "what was typed is kept"
    );

    // a header smuggled into To or Subject: refused, nothing queued
    for (field, value) in [
        ("to", "bob@example.test\r\nBcc: x@evil.test"),
        ("subject", "hi\r\nBcc: x@evil.test"),
    ] {
        let mut f = vec![
            ("csrf", csrf.as_str()),
            ("action", "send"),
            ("from", "alice@example.test"),
            ("to", "bob@example.test"),
            ("subject", "hi"),
        ];
        f.retain(|(k, _)| *k != field);
        f.push((field, value));
        let r = test::call_service(&svc, send(f)).await;
        assert!(location(&r).contains("&e="), "{field}: {}", location(&r));
    }
    assert_eq!(queued(s.store.clone()).await, 0, "nothing sent");

    // a real send: a colleague (local), an outside address, a Bcc
    let r = test::call_service(
        &svc,
        send(vec![
            ("csrf", &csrf),
            ("action", "send"),
            ("from", "a.martin@example.test"),
            ("to", "Bob <bob@example.test>, carol@remote.test"),
            ("bcc", "dave@other.test"),
            ("subject", "Ordre du jour — lundi"),
            ("body", "Bonjour,\nvoici l'ordre du jour.\n"),
        ]),
    )
    .await;
    assert_eq!(location(&r), "/mail/sent?sent=1");
    let sent = s
        .store
        .mailbox_page(alice, Folder::Sent, None, 10)
        .await
        .expect("sent");
    assert_eq!(sent.len(), 1);
    // a reply to her own message goes to whom it went, not nowhere
    let p = body(
        test::call_service(
            &svc,
            page(&format!("/mail/compose?mode=reply&ref={}", sent[0].id)),
        )
        .await,
    )
    .await;
    let to = p
        .split(r#"id="compose-to""#)
        .nth(1)
        .and_then(|t| t.split("value=\"").nth(1))
        .and_then(|t| t.split('"').next())
        .unwrap_or_default()
        .to_string();
    assert!(
        to.contains("bob@example.test") && to.contains("carol@remote.test"),
        "{to}"
    );
    assert!(!to.contains("a.martin@example.test"), "{to}");
    let raw = s
        .store
        .raw_message(sent[0].message)
        .await
        .expect("q")
        .expect("raw");
    let text = String::from_utf8_lossy(&raw);
    assert!(
        text.contains("From: \"alice\" <a.martin@example.test>")
            || text.contains("<a.martin@example.test>"),
        "{text}"
    );
    assert!(
        !text.contains("dave@other.test"),
        "Bcc only in the envelope: {text}"
    );
    let mut rcpts: Vec<(String, bool)> = s
        .store
        .deliveries_of(sent[0].message)
        .await
        .expect("deliveries")
        .into_iter()
        .map(|d| (d.rcpt, d.status == "queued"))
        .collect();
    rcpts.sort();
    assert_eq!(
        rcpts,
        [
            ("alice@example.test".to_string(), true),
            ("bob@example.test".to_string(), true),
            ("carol@remote.test".to_string(), true),
            ("dave@other.test".to_string(), true)
        ],
        "with the sender's own copy for her primary"
    );
    let own_inbox = s
        .store
        .mailbox_page(alice, Folder::Inbox, None, 10)
        .await
        .expect("inbox");
    assert!(
        !own_inbox.iter().any(|e| e.message == sent[0].message),
        "in Sent, not a second time in her Inbox"
    );
    // bob has it in his continuity mailbox at once
    let bob = s
        .store
        .account_by_address("bob@example.test")
        .await
        .expect("q")
        .expect("bob")
        .user;
    let inbox = s
        .store
        .mailbox_page(bob, Folder::Inbox, None, 10)
        .await
        .expect("bob inbox");
    assert!(inbox.iter().any(|e| e.message == sent[0].message));
    let events = s.store.events_of(sent[0].message).await.expect("events");
    assert!(
        events[0].detail.contains("\"origin\":\"webmail\""),
        "{:?}",
        events[0]
    );

    // a reply: addressed, titled and threaded from the archived message
    let p = body(
        test::call_service(
            &svc,
            page(&format!("/mail/compose?mode=replyall&ref={entry}")),
        )
        .await,
    )
    .await;
    assert!(
        p.contains(r#"value="x@remote.test, bob@example.test""#),
        "{p}"
    );
    assert!(
        p.contains(r#"value="carol@example.test""#),
        "Cc kept, own address dropped"
    );
    assert!(p.contains(r#"value="Re: Budget""#));
    assert!(
        p.contains("&gt; Can we meet?") || p.contains("> Can we meet?"),
        "{p}"
    );
    let entry_s = entry.to_string();
    let r = test::call_service(
        &svc,
        send(vec![
            ("csrf", &csrf),
            ("action", "send"),
            ("from", "alice@example.test"),
            ("to", "x@remote.test"),
            ("subject", "Re: Budget"),
            ("body", "Yes."),
            ("mode", "reply"),
            ("reference", &entry_s),
        ]),
    )
    .await;
    assert_eq!(location(&r), "/mail/sent?sent=1");
    let sent = s
        .store
        .mailbox_page(alice, Folder::Sent, None, 10)
        .await
        .expect("sent");
    let raw = s
        .store
        .raw_message(sent[0].message)
        .await
        .expect("q")
        .expect("raw");
    let text = String::from_utf8_lossy(&raw);
    assert!(text.contains("In-Reply-To: <orig@remote.test>"), "{text}");
    assert!(
        text.contains("References: <first@remote.test> <orig@remote.test>"),
        "{text}"
    );

    // a forward carries the original's attachments, byte for byte
    let with_file = "From: x@remote.test\r\nTo: alice@example.test\r\nSubject: Report\r\n\
        MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
        --b\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n\
        --b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"q3.pdf\"\r\n\
        Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKAAECAw==\r\n--b--\r\n";
    let fwd_msg = s
        .store
        .ingest(NewMessage {
            origin: Origin::Smtp,
            mail_from: "x@remote.test".into(),
            client_ip: None,
            helo: None,
            tls: false,
            summary: Summary::parse(with_file.as_bytes()),
            raw: with_file.as_bytes().to_vec(),
            recipients: vec![NewRecipient {
                rcpt: "alice@example.test".into(),
                domain: Some(domain),
                user,
            }],
            in_reply_to: None,
            sign_as: None,
        })
        .await
        .expect("ingest");
    let fwd_entry = s
        .store
        .mailbox_page(alice, Folder::Inbox, None, 10)
        .await
        .expect("inbox")
        .into_iter()
        .find(|e| e.message == fwd_msg)
        .expect("entry")
        .id
        .to_string();
    let p = body(
        test::call_service(
            &svc,
            page(&format!("/mail/compose?mode=forward&ref={fwd_entry}")),
        )
        .await,
    )
    .await;
    assert!(p.contains(r#"value="Fwd: Report""#), "{p}");
    assert!(p.contains("q3.pdf (13 B)"), "{p}");
    let r = test::call_service(
        &svc,
        send(vec![
            ("csrf", &csrf),
            ("action", "send"),
            ("from", "alice@example.test"),
            ("to", "bob@example.test"),
            ("subject", "Fwd: Report"),
            ("body", "FYI"),
            ("mode", "forward"),
            ("reference", &fwd_entry),
        ]),
    )
    .await;
    assert_eq!(location(&r), "/mail/sent?sent=1");
    let sent = s
        .store
        .mailbox_page(alice, Folder::Sent, None, 10)
        .await
        .expect("sent");
    let raw = s
        .store
        .raw_message(sent[0].message)
        .await
        .expect("q")
        .expect("raw");
    let files = server::compose::attachments_of(&raw);
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].name, "q3.pdf");
    assert_eq!(files[0].data, b"%PDF-1.4\n\x00\x01\x02\x03");

    // another user's message cannot be replied to (not found), nor used for threading
    let p = body(test::call_service(&svc, page("/mail/compose?mode=reply&ref=999999")).await).await;
    assert!(p.contains("There is nothing at this address"), "{p}");
}
