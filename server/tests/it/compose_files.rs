//! Issue 6: files in the webmail's compose, through the real routes — a
//! multipart form attaches them (without JavaScript), the enhanced page
//! uploads and autosaves through the same route as JSON, a file is
//! removed, the draft keeps them until sent, a forward keeps only the
//! files left ticked, the budget is enforced with what was typed kept, and
//! nobody reaches another user's draft or files.

use crate::common;

use actix_web::test::{self, TestRequest};
use common::control::{app, location, login, setup};
use server::store::mailbox::Folder;

const BOUNDARY: &str = "----continuity-test-boundary";

/// A multipart/form-data body: text fields, then files (field, file name,
/// type, bytes).
fn multipart(fields: &[(&str, &str)], files: &[(&str, &str, &str, &[u8])]) -> Vec<u8> {
    let mut b = Vec::new();
    for (k, v) in fields {
        b.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    for (k, name, ctype, data) in files {
        b.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"; filename=\"{name}\"\r\nContent-Type: {ctype}\r\n\r\n"
            )
            .as_bytes(),
        );
        b.extend_from_slice(data);
        b.extend_from_slice(b"\r\n");
    }
    b.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    b
}

fn json_of(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
}

#[actix_web::test]
async fn issue_6_attach_remove_upload_autosave_and_send_files() {
    let s = setup("compose-files").await;
    let svc = app(&s).await;
    let cookie = login(&svc, "alice@example.test", "continuity").await;
    let csrf = s.auth.session(cookie.value()).await.expect("session").csrf;
    let alice = s
        .store
        .account_by_address("alice@example.test")
        .await
        .unwrap()
        .unwrap()
        .user;
    let post = |body: Vec<u8>, json: bool| {
        let mut r = TestRequest::post()
            .uri("/mail/send")
            .cookie(cookie.clone())
            .insert_header((
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            ))
            .set_payload(body);
        if json {
            r = r.insert_header(("accept", "application/json"));
        }
        r.to_request()
    };
    let page = |path: String| {
        TestRequest::get()
            .uri(&path)
            .cookie(cookie.clone())
            .insert_header(("accept", "text/html"))
            .insert_header(("accept-language", "en"))
            .to_request()
    };
    let body =
        |r| async move { String::from_utf8_lossy(&test::read_body(r).await).replace("<!>", "") };
    let pdf: Vec<u8> = (0..=255u8).cycle().take(3000).collect();

    // without JavaScript: the form posts the file with "Attach"
    let r = test::call_service(
        &svc,
        post(
            multipart(
                &[
                    ("csrf", &csrf),
                    ("action", "attach"),
                    ("from", "alice@example.test"),
                    ("to", "bob@example.test"),
                    ("subject", "Plans"),
                    ("body", "See the files."),
                ],
                &[
                    ("files", "../../plan.pdf", "application/pdf", &pdf),
                    ("files", "notes.txt", "text/plain", b"first notes"),
                ],
            ),
            false,
        ),
    )
    .await;
    let loc = location(&r);
    assert!(loc.starts_with("/mail/compose?draft="), "{loc}");
    let draft: i64 = loc
        .trim_start_matches("/mail/compose?draft=")
        .parse()
        .expect("draft id");
    let p = body(test::call_service(&svc, page(loc.clone())).await).await;
    assert!(
        p.contains("plan.pdf (3 KB)") && p.contains("notes.txt (11 B)"),
        "{p}"
    );
    assert!(p.contains(r#"value="Plans""#), "what was typed is kept");
    let files = s.store.draft_files(alice, draft).await.unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(files[0].name, "plan.pdf", "no client path kept");

    // remove one (its own button, no JavaScript)
    let d = draft.to_string();
    let remove = format!("remove-{}", files[1].id);
    let r = test::call_service(
        &svc,
        post(
            multipart(
                &[
                    ("csrf", &csrf),
                    ("action", &remove),
                    ("draft", &d),
                    ("from", "alice@example.test"),
                    ("to", "bob@example.test"),
                    ("subject", "Plans"),
                    ("body", "See the files."),
                ],
                &[],
            ),
            false,
        ),
    )
    .await;
    assert_eq!(location(&r), format!("/mail/compose?draft={draft}"));
    assert_eq!(s.store.draft_files(alice, draft).await.unwrap().len(), 1);

    // the enhanced page: an upload and an autosave answer JSON
    let r = test::call_service(
        &svc,
        post(
            multipart(
                &[
                    ("csrf", &csrf),
                    ("action", "upload"),
                    ("draft", &d),
                    ("subject", "Plans v2"),
                ],
                &[("files", "photo.jpg", "image/jpeg", b"\xff\xd8\xff\xe0 jpeg")],
            ),
            true,
        ),
    )
    .await;
    assert_eq!(r.status(), 200);
    let j = json_of(&test::read_body(r).await);
    assert_eq!(j["draft"], draft);
    let names: Vec<&str> = j["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["plan.pdf", "photo.jpg"]);
    let r = test::call_service(
        &svc,
        post(
            multipart(
                &[
                    ("csrf", &csrf),
                    ("action", "autosave"),
                    ("draft", &d),
                    ("from", "alice@example.test"),
                    ("to", "bob@example.test"),
                    ("subject", "Plans v3"),
                    ("body", "Typed on."),
                ],
                &[],
            ),
            true,
        ),
    )
    .await;
    let j = json_of(&test::read_body(r).await);
    assert_eq!(j["draft"], draft);
    assert!(j["error"].is_null());
    assert_eq!(
        s.store.draft(alice, draft).await.unwrap().unwrap().subject,
        "Plans v3"
    );

    // send: the draft's files go with it, byte for byte; the draft is gone
    let r = test::call_service(
        &svc,
        post(
            multipart(
                &[
                    ("csrf", &csrf),
                    ("action", "send"),
                    ("draft", &d),
                    ("from", "alice@example.test"),
                    ("to", "bob@example.test"),
                    ("subject", "Plans v3"),
                    ("body", "Typed on."),
                ],
                &[],
            ),
            false,
        ),
    )
    .await;
    assert_eq!(location(&r), "/mail/sent?sent=1");
    let sent = s
        .store
        .mailbox_page(alice, Folder::Sent, None, 5)
        .await
        .unwrap();
    let raw = s.store.raw_message(sent[0].message).await.unwrap().unwrap();
    let got = server::compose::attachments_of(&raw);
    let got: Vec<(&str, &str, &[u8])> = got
        .iter()
        .map(|a| (a.name.as_str(), a.content_type.as_str(), a.data.as_slice()))
        .collect();
    assert_eq!(
        got,
        [
            ("plan.pdf", "application/pdf", pdf.as_slice()),
            ("photo.jpg", "image/jpeg", &b"\xff\xd8\xff\xe0 jpeg"[..])
        ]
    );
    assert!(s.store.draft(alice, draft).await.unwrap().is_none());
    assert!(s.store.draft_files(alice, draft).await.unwrap().is_empty());
}

#[actix_web::test]
async fn issue_6_the_file_budget_keeps_the_text_and_nobody_reaches_anothers_draft() {
    let s = setup("compose-budget").await;
    let svc = app(&s).await;
    let alice_cookie = login(&svc, "alice@example.test", "continuity").await;
    let alice_csrf = s.auth.session(alice_cookie.value()).await.unwrap().csrf;
    s.auth
        .set_password("bob@example.test", common::control::PW)
        .await
        .unwrap();
    let bob_cookie = login(&svc, "bob@example.test", "continuity").await;
    let bob_csrf = s.auth.session(bob_cookie.value()).await.unwrap().csrf;
    let alice = s
        .store
        .account_by_address("alice@example.test")
        .await
        .unwrap()
        .unwrap()
        .user;
    let post = |cookie: &actix_web::cookie::Cookie<'static>, body: Vec<u8>| {
        TestRequest::post()
            .uri("/mail/send")
            .cookie(cookie.clone())
            .insert_header((
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            ))
            .insert_header(("accept", "application/json"))
            .set_payload(body)
            .to_request()
    };
    // too large: refused, but the draft and its text are kept
    let big = vec![b'x'; server::web::compose_web::FILES_BUDGET + 1];
    let r = test::call_service(
        &svc,
        post(
            &alice_cookie,
            multipart(
                &[
                    ("csrf", &alice_csrf),
                    ("action", "upload"),
                    ("subject", "Big one"),
                    ("body", "keep me"),
                ],
                &[("files", "big.bin", "application/octet-stream", &big)],
            ),
        ),
    )
    .await;
    let j = json_of(&test::read_body(r).await);
    assert_eq!(j["error"], "files");
    let draft = j["draft"].as_i64().unwrap();
    let d = s.store.draft(alice, draft).await.unwrap().unwrap();
    assert_eq!(
        (d.subject.as_str(), d.body.as_str()),
        ("Big one", "keep me")
    );
    assert!(s.store.draft_files(alice, draft).await.unwrap().is_empty());

    let r = test::call_service(
        &svc,
        post(
            &alice_cookie,
            multipart(
                &[
                    ("csrf", &alice_csrf),
                    ("action", "upload"),
                    ("draft", &draft.to_string()),
                    ("subject", "Big one"),
                    ("body", "keep me"),
                ],
                &[("files", "secret.txt", "text/plain", b"alice's secret")],
            ),
        ),
    )
    .await;
    let j = json_of(&test::read_body(r).await);
    let file = j["files"][0]["id"].as_i64().unwrap();

    // bob names alice's draft and file: he gets his own new draft, hers is untouched
    let r = test::call_service(
        &svc,
        post(
            &bob_cookie,
            multipart(
                &[
                    ("csrf", &bob_csrf),
                    ("action", &format!("remove-{file}")),
                    ("draft", &draft.to_string()),
                    ("subject", "hijack"),
                ],
                &[],
            ),
        ),
    )
    .await;
    let j = json_of(&test::read_body(r).await);
    assert_ne!(j["draft"], draft);
    assert!(
        j["files"].as_array().unwrap().is_empty(),
        "no file of alice's in bob's draft"
    );
    assert_eq!(s.store.draft_files(alice, draft).await.unwrap().len(), 1);
    assert_eq!(
        s.store.draft(alice, draft).await.unwrap().unwrap().subject,
        "Big one"
    );
    // and cannot open it
    let r = test::call_service(
        &svc,
        TestRequest::get()
            .uri(&format!("/mail/compose?draft={draft}"))
            .cookie(bob_cookie.clone())
            .insert_header(("accept", "text/html"))
            .insert_header(("accept-language", "en"))
            .to_request(),
    )
    .await;
    let p = String::from_utf8_lossy(&test::read_body(r).await).to_string();
    assert!(
        !p.contains("secret.txt") && p.contains("There is nothing at this address"),
        "{p}"
    );
    // a forged CSRF token uploads nothing
    let r = test::call_service(
        &svc,
        post(
            &alice_cookie,
            multipart(
                &[("csrf", "forged"), ("action", "upload")],
                &[("files", "x.txt", "text/plain", b"x")],
            ),
        ),
    )
    .await;
    assert_eq!(r.status(), 403);
}

#[actix_web::test]
async fn a_user_cannot_fill_the_server_with_form_parts_drafts_or_files() {
    let s = setup("compose-quotas").await;
    let svc = common::web_app_quotas(
        &s.store,
        &s.auth,
        Default::default(),
        server::web::Quotas {
            max_drafts: 3,
            draft_files: 100 * 1024,
        },
    )
    .await;
    let cookie = login(&svc, "alice@example.test", "continuity").await;
    let csrf = s.auth.session(cookie.value()).await.expect("session").csrf;
    let alice = s
        .store
        .account_by_address("alice@example.test")
        .await
        .unwrap()
        .unwrap()
        .user;
    let post = |body: Vec<u8>| {
        TestRequest::post()
            .uri("/mail/send")
            .cookie(cookie.clone())
            .insert_header((
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            ))
            .set_payload(body)
            .to_request()
    };
    // thousands of tiny fields: refused whole, nothing kept
    let many: Vec<(String, String)> = (0..5000).map(|i| (format!("f{i}"), "x".into())).collect();
    let mut fields: Vec<(&str, &str)> = vec![("csrf", csrf.as_str()), ("action", "save")];
    fields.extend(many.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let r = test::call_service(&svc, post(multipart(&fields, &[]))).await;
    assert_eq!(r.status(), 400);
    // so are thousands of empty file inputs
    let empties: Vec<(&str, &str, &str, &[u8])> = (0..5000)
        .map(|_| ("files", "", "application/octet-stream", &b""[..]))
        .collect();
    let r = test::call_service(
        &svc,
        post(multipart(&[("csrf", &csrf), ("action", "save")], &empties)),
    )
    .await;
    assert_eq!(r.status(), 400);
    assert_eq!(s.store.draft_usage(alice).await.unwrap(), (0, 0));

    // files: the drafts' files together stay within the quota
    let file = vec![b'z'; 60 * 1024];
    let r = test::call_service(
        &svc,
        post(multipart(
            &[("csrf", &csrf), ("action", "attach"), ("subject", "one")],
            &[("files", "a.bin", "application/octet-stream", &file)],
        )),
    )
    .await;
    let first = location(&r);
    assert!(!first.contains("e="), "{first}");
    let r = test::call_service(
        &svc,
        post(multipart(
            &[("csrf", &csrf), ("action", "attach"), ("subject", "two")],
            &[("files", "b.bin", "application/octet-stream", &file)],
        )),
    )
    .await;
    assert!(
        location(&r).contains("e=quota&why=102400"),
        "{}",
        location(&r)
    );
    let (drafts, bytes) = s.store.draft_usage(alice).await.unwrap();
    assert_eq!(
        (drafts, bytes),
        (2, 60 * 1024),
        "the text kept, the file not"
    );

    // drafts: at most three; a fourth new one is refused with the reason,
    // an existing one can still be saved
    let r = test::call_service(
        &svc,
        post(multipart(
            &[("csrf", &csrf), ("action", "save"), ("subject", "three")],
            &[],
        )),
    )
    .await;
    assert!(!location(&r).contains("e="), "{}", location(&r));
    let r = test::call_service(
        &svc,
        post(multipart(
            &[("csrf", &csrf), ("action", "save"), ("subject", "four")],
            &[],
        )),
    )
    .await;
    assert_eq!(location(&r), "/mail/drafts?e=drafts&why=3");
    assert_eq!(s.store.draft_usage(alice).await.unwrap().0, 3);
    let draft = first
        .split("draft=")
        .nth(1)
        .and_then(|d| d.split('&').next())
        .unwrap()
        .to_string();
    let r = test::call_service(
        &svc,
        post(multipart(
            &[
                ("csrf", &csrf),
                ("action", "save"),
                ("draft", &draft),
                ("subject", "one, edited"),
            ],
            &[],
        )),
    )
    .await;
    assert!(
        location(&r).contains(&format!("draft={draft}")),
        "{}",
        location(&r)
    );
    assert!(!location(&r).contains("e="), "{}", location(&r));
    // and someone else's draft id does not open a new slot past the quota
    let r = test::call_service(
        &svc,
        post(multipart(
            &[
                ("csrf", &csrf),
                ("action", "save"),
                ("draft", "999999"),
                ("subject", "sneaky"),
            ],
            &[],
        )),
    )
    .await;
    assert_eq!(location(&r), "/mail/drafts?e=drafts&why=3");
    assert_eq!(s.store.draft_usage(alice).await.unwrap().0, 3);
}
