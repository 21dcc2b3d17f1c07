//! The webmail's Drafts are the IMAP Drafts folder's: a draft saved in the
//! webmail is a message there (`\Draft`, Bcc kept), replaced when it
//! changes and only then, gone when sent or discarded — the archive keeps
//! no revision. A mail app's draft there is listed in the webmail and
//! opens in its compose page; expunged or moved away in the mail app, a
//! draft leaves the webmail too.

use crate::common;

use actix_web::cookie::Cookie;
use actix_web::test::{self, TestRequest};
use common::mailuser::{app, body_text, location, session_of, setup};
use server::store::imap::{FlagOp, Flags};
use server::store::mailbox::Folder;
use server::store::{Store, UserId};

async fn alice(store: &Store) -> UserId {
    store
        .account_by_address("alice@example.test")
        .await
        .expect("q")
        .expect("alice")
        .user
}

/// The Drafts folder's messages: (uid, flags, raw).
async fn drafts_folder(store: &Store, user: UserId) -> Vec<(u32, Flags, String)> {
    let folder = Folder::User(
        store
            .drafts_folder(user)
            .await
            .expect("q")
            .expect("a Drafts folder"),
    );
    let entries = store.imap_entries(user, folder).await.expect("entries");
    let uids: Vec<u32> = entries.iter().map(|e| e.uid).collect();
    let raws = store.imap_raws(user, folder, &uids).await.expect("raws");
    entries
        .iter()
        .zip(raws)
        .map(|(e, (_, raw))| (e.uid, e.flags, String::from_utf8_lossy(&raw).into_owned()))
        .collect()
}

#[actix_web::test]
async fn webmail_drafts_are_the_drafts_folder() {
    let s = setup("drafts-mirror").await;
    let svc = app(&s).await;
    let (cookie, csrf) = session_of(&s, &svc, "alice@example.test").await;
    let alice = alice(&s.store).await;
    let post = |fields: Vec<(&str, String)>| {
        let mut form = vec![("csrf", csrf.clone())];
        form.extend(fields);
        TestRequest::post()
            .uri("/mail/send")
            .cookie(Cookie::new("continuity", cookie.clone()))
            .set_form(form)
            .to_request()
    };
    let fields = |draft: i64, action: &str, subject: &str, body: &str| {
        vec![
            ("action", action.to_string()),
            ("draft", draft.to_string()),
            ("from", "alice@example.test".to_string()),
            ("to", "Bob <bob@example.test>, not-yet-an-addr".to_string()),
            ("bcc", "carol@example.test".to_string()),
            ("subject", subject.to_string()),
            ("body", body.to_string()),
        ]
    };
    let messages = s.store.message_count().await.expect("n");

    // saved in the webmail: one message in Drafts, as a mail app reads it
    let r = test::call_service(&svc, post(fields(0, "save", "Budget 2027", "First go"))).await;
    assert!(r.status().is_redirection(), "{}", r.status());
    let draft = s.store.drafts(alice, 10).await.expect("list")[0].id;
    let seen = drafts_folder(&s.store, alice).await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    let (uid1, flags, raw) = &seen[0];
    assert!(flags.draft && flags.seen, "{flags:?}");
    assert!(raw.contains("Subject: Budget 2027"), "{raw}");
    assert!(
        raw.contains("bob@example.test") && raw.contains("Bcc: <carol@example.test>"),
        "{raw}"
    );
    assert!(
        !raw.contains("not-yet-an-addr"),
        "an address not yet valid is left out: {raw}"
    );
    assert!(raw.contains("First go"), "{raw}");
    assert_eq!(s.store.message_count().await.expect("n"), messages + 1);

    // saved unchanged: nothing written; changed: replaced, the old revision
    // gone from the archive too
    let r = test::call_service(
        &svc,
        post(fields(draft, "autosave", "Budget 2027", "First go")),
    )
    .await;
    assert!(
        r.status().is_success() || r.status().is_redirection(),
        "{}",
        r.status()
    );
    assert_eq!(
        drafts_folder(&s.store, alice).await[0].0,
        *uid1,
        "not rewritten"
    );
    let r = test::call_service(
        &svc,
        post(fields(draft, "save", "Budget 2027", "Second go")),
    )
    .await;
    assert!(r.status().is_redirection());
    let seen = drafts_folder(&s.store, alice).await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].0 > *uid1 && seen[0].2.contains("Second go"));
    assert_eq!(
        s.store.message_count().await.expect("n"),
        messages + 1,
        "no revision kept"
    );
    assert_eq!(s.store.draft_count(alice).await.expect("n"), 1);

    // discarded in the webmail: gone from Drafts and from the archive
    let r = test::call_service(
        &svc,
        TestRequest::post()
            .uri(&format!("/mail/drafts/{draft}/discard"))
            .cookie(Cookie::new("continuity", cookie.clone()))
            .set_form([("csrf", csrf.as_str())])
            .to_request(),
    )
    .await;
    assert_eq!(location(&r), "/mail/drafts?done=discarded");
    assert!(drafts_folder(&s.store, alice).await.is_empty());
    assert_eq!(s.store.message_count().await.expect("n"), messages);

    // sent from the webmail: its draft message goes
    let r = test::call_service(&svc, post(fields(0, "save", "To send", "soon"))).await;
    assert!(r.status().is_redirection());
    let draft = s.store.drafts(alice, 10).await.expect("list")[0].id;
    assert_eq!(drafts_folder(&s.store, alice).await.len(), 1);
    let mut send = fields(draft, "send", "To send", "now");
    send[3].1 = "bob@example.test".into();
    let r = test::call_service(&svc, post(send)).await;
    assert!(location(&r).starts_with("/mail/sent"), "{}", location(&r));
    assert!(drafts_folder(&s.store, alice).await.is_empty());
    assert_eq!(s.store.draft_count(alice).await.expect("n"), 0);

    // a webmail draft expunged by a mail app leaves the webmail
    let r = test::call_service(&svc, post(fields(0, "save", "Short-lived", "x"))).await;
    assert!(r.status().is_redirection());
    let draft = s.store.drafts(alice, 10).await.expect("list")[0].id;
    let folder = Folder::User(s.store.drafts_folder(alice).await.expect("q").expect("f"));
    let uid = drafts_folder(&s.store, alice).await[0].0;
    let deleted = Flags {
        deleted: true,
        ..Flags::default()
    };
    s.store
        .imap_store_flags(alice, folder, &[uid], FlagOp::Add, deleted)
        .await
        .expect("store");
    s.store
        .imap_expunge(alice, folder, None)
        .await
        .expect("expunge");
    assert!(s.store.draft(alice, draft).await.expect("q").is_none());
    assert_eq!(s.store.draft_count(alice).await.expect("n"), 0);

    // a draft kept from before drafts were mirrored: shown to mail apps
    // once the webmail lists the drafts
    let old = server::store::drafts::DraftRow {
        from: "alice@example.test".into(),
        subject: "From last week".into(),
        mode: "new".into(),
        ..Default::default()
    };
    s.store.save_draft(alice, &old).await.expect("save");
    assert!(drafts_folder(&s.store, alice).await.is_empty());
    let r = test::call_service(
        &svc,
        TestRequest::get()
            .uri("/mail/drafts")
            .cookie(Cookie::new("continuity", cookie.clone()))
            .insert_header(("accept", "text/html"))
            .to_request(),
    )
    .await;
    assert!(r.status().is_success(), "{}", r.status());
    let seen = drafts_folder(&s.store, alice).await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].2.contains("Subject: From last week"),
        "{}",
        seen[0].2
    );
    assert_eq!(s.store.drafts(alice, 10).await.expect("list").len(), 1);
}

#[actix_web::test]
async fn a_mail_apps_draft_opens_in_the_webmail() {
    let s = setup("drafts-adopt").await;
    let svc = app(&s).await;
    let (cookie, csrf) = session_of(&s, &svc, "alice@example.test").await;
    let alice = alice(&s.store).await;
    let folder = Folder::User(s.store.drafts_folder(alice).await.expect("q").expect("f"));
    // as Thunderbird keeps a draft: \Draft \Seen, with a file
    let raw = b"From: Alice <alice@example.test>\r\nTo: \"Bob B.\" <bob@example.test>\r\n\
Cc: carol@example.test\r\nBcc: dave@example.test\r\nSubject: =?UTF-8?Q?R=C3=A9union?=\r\n\
Message-ID: <tb-draft-1@example.test>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\nOrdre du jour\r\n--b\r\n\
Content-Type: text/plain; name=\"agenda.txt\"\r\nContent-Disposition: attachment; filename=\"agenda.txt\"\r\n\r\n\
1. budget\r\n--b--\r\n";
    let flags = Flags {
        seen: true,
        draft: true,
        ..Flags::default()
    };
    let uid = s
        .store
        .imap_append(alice, folder, raw, flags, None)
        .await
        .expect("append");
    let archived = s.store.message_count().await.expect("n");
    assert_eq!(
        s.store.draft_count(alice).await.expect("n"),
        1,
        "counted before adoption"
    );

    // listed in the webmail, with what it holds
    let page = body_text(
        test::call_service(
            &svc,
            TestRequest::get()
                .uri("/mail/drafts")
                .cookie(Cookie::new("continuity", cookie.clone()))
                .insert_header(("accept", "text/html"))
                .to_request(),
        )
        .await,
    )
    .await
    .replace("<!>", "");
    assert!(page.contains("Réunion"), "{page}");
    let list = s.store.drafts(alice, 10).await.expect("list");
    assert_eq!(list.len(), 1, "adopted once: {list:?}");
    let d = s
        .store
        .draft(alice, list[0].id)
        .await
        .expect("q")
        .expect("draft");
    assert_eq!(d.to, "Bob B. <bob@example.test>");
    assert_eq!(
        (d.cc.as_str(), d.bcc.as_str()),
        ("carol@example.test", "dave@example.test")
    );
    assert_eq!(d.subject, "Réunion");
    assert!(d.body.starts_with("Ordre du jour"), "{:?}", d.body);
    let files = s.store.draft_files(alice, d.id).await.expect("files");
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].name, "agenda.txt");
    assert_eq!(s.store.draft_count(alice).await.expect("n"), 1);

    // opened in the compose page
    let page = body_text(
        test::call_service(
            &svc,
            TestRequest::get()
                .uri(&format!("/mail/compose?draft={}", d.id))
                .cookie(Cookie::new("continuity", cookie.clone()))
                .insert_header(("accept", "text/html"))
                .to_request(),
        )
        .await,
    )
    .await
    .replace("<!>", "");
    assert!(
        page.contains("Réunion") && page.contains("agenda.txt"),
        "{page}"
    );

    // saved there with a change: the mail app sees the new version in
    // place of its own; what it appended stays in the archive
    let r = test::call_service(
        &svc,
        TestRequest::post()
            .uri("/mail/send")
            .cookie(Cookie::new("continuity", cookie.clone()))
            .set_form([
                ("csrf", csrf.as_str()),
                ("action", "save"),
                ("draft", d.id.to_string().as_str()),
                ("from", "alice@example.test"),
                ("to", d.to.as_str()),
                ("cc", d.cc.as_str()),
                ("bcc", d.bcc.as_str()),
                ("subject", "Réunion lundi"),
                ("body", "Ordre du jour, revu"),
            ])
            .to_request(),
    )
    .await;
    assert!(r.status().is_redirection(), "{}", r.status());
    let seen = drafts_folder(&s.store, alice).await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].0 > uid);
    assert!(
        seen[0].2.contains("revu") && seen[0].2.contains("agenda.txt"),
        "{}",
        seen[0].2
    );
    assert_eq!(s.store.message_count().await.expect("n"), archived + 1);

    // moved out of Drafts by the mail app (to Trash, say): the webmail's
    // draft goes too
    let trash = s
        .store
        .imap_copy(alice, folder, &[seen[0].0], Folder::Trash)
        .await
        .expect("copy");
    assert_eq!(trash.len(), 1);
    let deleted = Flags {
        deleted: true,
        ..Flags::default()
    };
    s.store
        .imap_store_flags(alice, folder, &[seen[0].0], FlagOp::Add, deleted)
        .await
        .expect("store");
    s.store
        .imap_expunge(alice, folder, None)
        .await
        .expect("expunge");
    assert_eq!(s.store.draft_count(alice).await.expect("n"), 0);
    assert!(s.store.drafts(alice, 10).await.expect("list").is_empty());
    // and its message, still shown in Trash, is kept
    assert_eq!(s.store.message_count().await.expect("n"), archived + 1);
}

/// A compose page left open on a draft that went (sent, discarded, deleted
/// by a mail app) must not save over a newer draft: ids are never reused.
#[actix_web::test]
async fn a_drafts_id_is_never_given_again() {
    let s = setup("drafts-ids").await;
    let alice = alice(&s.store).await;
    let row = |subject: &str| server::store::drafts::DraftRow {
        subject: subject.into(),
        mode: "new".into(),
        ..Default::default()
    };
    s.store
        .save_draft(alice, &row("first"))
        .await
        .expect("save");
    let last = s
        .store
        .save_draft(alice, &row("second"))
        .await
        .expect("save");
    assert!(s.store.discard_draft(alice, last).await.expect("discard"));
    let next = s
        .store
        .save_draft(alice, &row("third"))
        .await
        .expect("save");
    assert!(next > last, "{next} after {last}");
    // the page still open on the discarded draft saves a new one
    let mut stale = row("typed in the old page");
    stale.id = last;
    let saved = s.store.save_draft(alice, &stale).await.expect("save");
    assert!(saved != next && saved != last);
    let third = s.store.draft(alice, next).await.expect("q").expect("third");
    assert_eq!(third.subject, "third");
}
