//! The webmail's own folders, tried by their user and by others: a folder
//! made (with its level), a message moved into it, listed there and moved
//! back, the folder renamed and deleted; refusals come back to the folders
//! page with their reason. Someone else's folder or message, a forged
//! token, no session: refused, nothing changed.

use crate::common;

use actix_web::cookie::Cookie;
use actix_web::test::{self, TestRequest};
use common::mailuser::{app, body_text, location, session_of, setup};
use server::store::mailbox::Folder;

#[actix_web::test]
async fn make_move_into_rename_and_delete_folders() {
    let s = setup("folders-web").await;
    let svc = app(&s).await;
    let (cookie, csrf) = session_of(&s, &svc, "alice@example.test").await;
    let (bob_cookie, bob_csrf) = session_of(&s, &svc, "bob@example.test").await;
    let account = |address: &'static str| {
        let store = s.store.clone();
        async move {
            store
                .account_by_address(address)
                .await
                .expect("q")
                .expect("user")
                .user
        }
    };
    let alice = account("alice@example.test").await;
    let bob = account("bob@example.test").await;
    let post = |uri: &str, cookie: &str, form: &[(&str, &str)]| {
        TestRequest::post()
            .uri(uri)
            .cookie(Cookie::new("continuity", cookie.to_string()))
            .set_form(
                form.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<Vec<_>>(),
            )
            .to_request()
    };
    let get = |uri: &str, cookie: &str| {
        TestRequest::get()
            .uri(uri)
            .cookie(Cookie::new("continuity", cookie.to_string()))
            .insert_header(("accept", "text/html"))
            .insert_header(("accept-language", "fr"))
            .to_request()
    };

    // made, with the level above it
    let r = test::call_service(
        &svc,
        post(
            "/mail/folders/create",
            &cookie,
            &[("csrf", &csrf), ("name", " Clients/Acme ")],
        ),
    )
    .await;
    assert!(
        location(&r).starts_with("/mail/folders?done=created"),
        "{}",
        location(&r)
    );
    let folders = s.store.user_folders(alice).await.expect("q");
    let names: Vec<&str> = folders.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["Clients", "Clients/Acme"]);
    let acme = folders[1].id;
    // refusals come back with their reason and what was typed
    for (name, why) in [
        ("Clients", "exists"),
        ("", "empty"),
        ("a//b", "empty"),
        ("Trash", "reserved"),
        ("x%y", "character"),
    ] {
        let r = test::call_service(
            &svc,
            post(
                "/mail/folders/create",
                &cookie,
                &[("csrf", &csrf), ("name", name)],
            ),
        )
        .await;
        assert!(
            location(&r).starts_with(&format!("/mail/folders?error={why}&name=")),
            "{name}: {}",
            location(&r)
        );
    }
    let page = body_text(
        test::call_service(
            &svc,
            get("/mail/folders?error=exists&name=Clients", &cookie),
        )
        .await,
    )
    .await;
    assert!(page.contains("Un dossier de ce nom existe déjà."), "{page}");

    // bob cannot see, rename, delete or fill alice's folder
    let r = test::call_service(&svc, get(&format!("/mail/folder/{}", acme.0), &bob_cookie)).await;
    let page = body_text(r).await;
    assert!(!page.contains("Clients"), "{page}");
    let r = test::call_service(
        &svc,
        post(
            &format!("/mail/folders/{}/rename", acme.0),
            &bob_cookie,
            &[("csrf", &bob_csrf), ("name", "Mine")],
        ),
    )
    .await;
    assert_eq!(r.status(), 404);
    let r = test::call_service(
        &svc,
        post(
            &format!("/mail/folders/{}/delete", acme.0),
            &bob_cookie,
            &[("csrf", &bob_csrf)],
        ),
    )
    .await;
    assert_eq!(r.status(), 404);
    let to = format!("f{}", acme.0);
    let r = test::call_service(
        &svc,
        post(
            &format!("/mail/m/{}/move", s.bob_mail),
            &bob_cookie,
            &[("csrf", &bob_csrf), ("to", &to)],
        ),
    )
    .await;
    assert_eq!(r.status(), 404, "not bob's folder");
    // nor move her mail; a forged token and no session are refused too
    let r = test::call_service(
        &svc,
        post(
            &format!("/mail/m/{}/move", s.alice_mail),
            &bob_cookie,
            &[("csrf", &bob_csrf), ("to", "inbox")],
        ),
    )
    .await;
    assert_eq!(r.status(), 404);
    let r = test::call_service(
        &svc,
        post(
            &format!("/mail/m/{}/move", s.alice_mail),
            &cookie,
            &[("csrf", "forged"), ("to", &to)],
        ),
    )
    .await;
    assert_eq!(r.status(), 403);
    let r = test::call_service(
        &svc,
        TestRequest::post()
            .uri(&format!("/mail/m/{}/move", s.alice_mail))
            .set_form([("csrf", csrf.as_str()), ("to", to.as_str())])
            .to_request(),
    )
    .await;
    assert!(location(&r).starts_with("/login"), "{}", location(&r));
    assert_eq!(s.store.user_folders(bob).await.expect("q"), []);
    for bad in ["sent", "trash", "f0", "nowhere"] {
        let r = test::call_service(
            &svc,
            post(
                &format!("/mail/m/{}/move", s.alice_mail),
                &cookie,
                &[("csrf", &csrf), ("to", bad)],
            ),
        )
        .await;
        assert!(
            r.status() == 400 || r.status() == 404,
            "{bad}: {}",
            r.status()
        );
    }

    // alice moves her message in: a new entry there, listed; then back
    let r = test::call_service(
        &svc,
        post(
            &format!("/mail/m/{}/move", s.alice_mail),
            &cookie,
            &[("csrf", &csrf), ("to", &to)],
        ),
    )
    .await;
    assert_eq!(location(&r), "/mail/inbox?done=moved");
    let rows = s
        .store
        .mailbox_page(alice, Folder::User(acme), None, 10)
        .await
        .expect("q");
    assert_eq!(rows.len(), 1);
    assert!(s
        .store
        .mailbox_entry(alice, s.alice_mail)
        .await
        .expect("q")
        .is_none());
    let page = body_text(
        test::call_service(&svc, get(&format!("/mail/folder/{}", acme.0), &cookie)).await,
    )
    .await;
    assert!(page.contains("Clients/Acme"), "the title: {page}");
    assert!(
        page.contains(&format!("/mail/m/{}", rows[0].id)),
        "listed: {page}"
    );
    let r = test::call_service(
        &svc,
        post(
            &format!("/mail/m/{}/move", rows[0].id),
            &cookie,
            &[("csrf", &csrf), ("to", "inbox")],
        ),
    )
    .await;
    assert_eq!(location(&r), format!("/mail/folder/{}?done=moved", acme.0));
    let back = s
        .store
        .mailbox_page(alice, Folder::Inbox, None, 10)
        .await
        .expect("q");
    assert_eq!(back.len(), 1);

    // trashed from the folder, restored to it
    let r = test::call_service(
        &svc,
        post(
            &format!("/mail/m/{}/move", back[0].id),
            &cookie,
            &[("csrf", &csrf), ("to", &to)],
        ),
    )
    .await;
    assert!(r.status().is_redirection());
    let inside = s
        .store
        .mailbox_page(alice, Folder::User(acme), None, 10)
        .await
        .expect("q");
    let r = test::call_service(
        &svc,
        post(
            &format!("/mail/m/{}/trash", inside[0].id),
            &cookie,
            &[("csrf", &csrf)],
        ),
    )
    .await;
    assert_eq!(
        location(&r),
        format!("/mail/folder/{}?done=trashed", acme.0)
    );
    let trash = s
        .store
        .mailbox_page(alice, Folder::Trash, None, 10)
        .await
        .expect("q");
    assert_eq!(
        s.store.trashed_from(alice, trash[0].id).await.expect("q"),
        Some(Folder::User(acme))
    );

    // renamed; the parent refuses to go while it has a child
    let r = test::call_service(
        &svc,
        post(
            &format!("/mail/folders/{}/rename", acme.0),
            &cookie,
            &[("csrf", &csrf), ("name", "Clients/Acme SA")],
        ),
    )
    .await;
    assert!(
        location(&r).starts_with("/mail/folders?done=renamed"),
        "{}",
        location(&r)
    );
    let clients = s
        .store
        .user_folder_named(alice, "Clients")
        .await
        .expect("q")
        .expect("Clients");
    let r = test::call_service(
        &svc,
        post(
            &format!("/mail/folders/{}/delete", clients.id.0),
            &cookie,
            &[("csrf", &csrf)],
        ),
    )
    .await;
    assert!(
        location(&r).starts_with("/mail/folders?error=children"),
        "{}",
        location(&r)
    );
    // deleted: the trash entry that came from it would go back to the Inbox
    let r = test::call_service(
        &svc,
        post(
            &format!("/mail/folders/{}/delete", acme.0),
            &cookie,
            &[("csrf", &csrf)],
        ),
    )
    .await;
    assert_eq!(location(&r), "/mail/folders?done=deleted");
    assert_eq!(
        s.store.trashed_from(alice, trash[0].id).await.expect("q"),
        Some(Folder::Inbox)
    );
    let archived: i64 = s.store.message_count().await.expect("q");
    assert!(archived >= 2, "the archive keeps every message");
}
