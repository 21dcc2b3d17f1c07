//! The JSON admin API: tokens, domains, roles, confirmation, revocation.

use crate::common;

use actix_web::test::{self, TestRequest};
use common::control::{app, setup};

#[actix_web::test]
async fn the_admin_api_does_what_the_panel_does_with_tokens_and_refuses_the_rest() {
    let s = setup("cp-api").await;
    let svc = app(&s).await;
    let admin = s
        .store
        .admin_by_address("admin@example.test")
        .await
        .expect("q")
        .expect("admin");
    let token = "cty_test-token-for-the-domain-admin";
    let tid = s
        .store
        .insert_api_token(
            admin.id,
            "script",
            &server::auth::token::sha256(token.as_bytes()),
        )
        .await
        .expect("token");
    let call = |method: actix_web::http::Method,
                path: &str,
                body: Option<serde_json::Value>,
                bearer: &str| {
        let mut r = TestRequest::default()
            .method(method)
            .uri(path)
            .insert_header(("authorization", format!("Bearer {bearer}")));
        if let Some(b) = body {
            r = r.set_json(b);
        }
        r.to_request()
    };
    use actix_web::http::Method;
    use serde_json::json;
    let json_of = |b: actix_web::web::Bytes| -> serde_json::Value {
        serde_json::from_slice(&b).expect("json body")
    };

    // no token, a wrong one
    let r = test::call_service(
        &svc,
        TestRequest::get().uri("/api/admin/domains").to_request(),
    )
    .await;
    assert_eq!(r.status(), 401);
    let r = test::call_service(
        &svc,
        call(Method::GET, "/api/admin/domains", None, "cty_nope"),
    )
    .await;
    assert_eq!(r.status(), 401);

    let r = test::call_service(&svc, call(Method::GET, "/api/admin/domains", None, token)).await;
    assert_eq!(r.status(), 200);
    let list = json_of(test::read_body(r).await);
    assert_eq!(list.as_array().map(|a| a.len()), Some(1), "{list}");
    assert_eq!(list[0]["name"], "example.test");

    // another domain is not found, for reads and writes
    let r = test::call_service(
        &svc,
        call(
            Method::GET,
            "/api/admin/domains/other.test/continuity",
            None,
            token,
        ),
    )
    .await;
    assert_eq!(r.status(), 404);
    let r = test::call_service(
        &svc,
        call(
            Method::PUT,
            "/api/admin/domains/other.test/continuity/enabled",
            Some(json!({"enabled": false})),
            token,
        ),
    )
    .await;
    assert_eq!(r.status(), 404);
    assert!(
        s.store
            .continuity_settings(s.other)
            .await
            .expect("q")
            .expect("s")
            .enabled
    );

    let base = "/api/admin/domains/example.test/continuity";
    let r = test::call_service(
        &svc,
        call(
            Method::PUT,
            &format!("{base}/scope"),
            Some(json!({"scope": "selected"})),
            token,
        ),
    )
    .await;
    assert_eq!(r.status(), 200);
    let r = test::call_service(
        &svc,
        call(
            Method::POST,
            &format!("{base}/users"),
            Some(json!({"address": "a.martin@example.test"})),
            token,
        ),
    )
    .await;
    assert_eq!(r.status(), 201);
    assert_eq!(
        json_of(test::read_body(r).await)["address"],
        "alice@example.test"
    );
    let r = test::call_service(
        &svc,
        call(
            Method::POST,
            &format!("{base}/users"),
            Some(json!({"address": "alice@example.test"})),
            token,
        ),
    )
    .await;
    assert_eq!(r.status(), 409);
    assert_eq!(json_of(test::read_body(r).await)["error"], "duplicate");
    let r = test::call_service(
        &svc,
        call(
            Method::POST,
            &format!("{base}/users"),
            Some(json!({"address": "dave@other.test"})),
            token,
        ),
    )
    .await;
    assert_eq!(json_of(test::read_body(r).await)["error"], "other_domain");
    let r = test::call_service(
        &svc,
        call(
            Method::POST,
            &format!("{base}/users"),
            Some(json!({"nope": 1})),
            token,
        ),
    )
    .await;
    assert_eq!(r.status(), 400);
    assert_eq!(json_of(test::read_body(r).await)["error"], "bad_request");
    let r = test::call_service(
        &svc,
        call(
            Method::PUT,
            &format!("{base}/scope"),
            Some(json!({"scope": "all"})),
            token,
        ),
    )
    .await;
    assert_eq!(r.status(), 409);
    let body = json_of(test::read_body(r).await);
    assert_eq!(
        (body["error"].as_str(), body["selected_users"].as_i64()),
        (Some("confirmation_required"), Some(1))
    );
    let r = test::call_service(&svc, call(Method::GET, base, None, token)).await;
    let view = json_of(test::read_body(r).await);
    assert_eq!(view["scope"], "selected");
    assert_eq!(view["users"][0]["address"], "alice@example.test");
    let r = test::call_service(
        &svc,
        call(
            Method::DELETE,
            &format!("{base}/users/bob@example.test"),
            None,
            token,
        ),
    )
    .await;
    assert_eq!(r.status(), 404);
    let r = test::call_service(
        &svc,
        call(
            Method::DELETE,
            &format!("{base}/users/alice@example.test"),
            None,
            token,
        ),
    )
    .await;
    assert_eq!(r.status(), 204);
    let r = test::call_service(
        &svc,
        call(
            Method::POST,
            &format!("{base}/state"),
            Some(json!({"action": "activate"})),
            token,
        ),
    )
    .await;
    assert_eq!(json_of(test::read_body(r).await)["state"], "outage");
    let audit = s.store.audit_log(s.example, 20).await.expect("audit");
    assert!(
        audit
            .iter()
            .all(|a| a.actor == "api:script (admin@example.test)"),
        "{audit:?}"
    );

    // a revoked token fails at once
    assert!(s.store.revoke_api_token(tid).await.expect("revoke"));
    let r = test::call_service(&svc, call(Method::GET, "/api/admin/domains", None, token)).await;
    assert_eq!(r.status(), 401);
}
