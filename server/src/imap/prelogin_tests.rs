//! What a client may do before logging in, and what a user may append:
//! small commands only (no megabyte literal held for someone without a
//! password), a few commands, one deadline for the whole login; after
//! login, APPEND within the user's quota.

use super::test_world::{connect, logged_in, world_with};

#[tokio::test]
async fn a_large_literal_before_login_ends_the_session_at_once() {
    // the largest APPEND is 50 MiB once logged in: not before
    let w = world_with("pre-literal", true, &[]).await;
    let mut c = connect(&w, true).await;
    c.send("a LOGIN {10000000}\r\n").await;
    let r = c.read_until("* BYE").await;
    assert!(r.contains("* BYE Command too long before login"), "{r}");
    assert!(!r.contains("+ "), "no go-ahead for the literal: {r}");
    // non-synchronising too
    let mut c = connect(&w, true).await;
    c.send("a LOGIN {70000+}\r\n").await;
    let r = c.read_until("* BYE").await;
    assert!(r.contains("Command too long before login"), "{r}");
}

#[tokio::test]
async fn a_long_line_before_login_ends_the_session() {
    let w = world_with("pre-line", true, &[]).await;
    let mut c = connect(&w, true).await;
    c.send(&format!("a LOGIN {}", "x".repeat(70_000))).await;
    let r = c.read_until("* BYE").await;
    assert!(r.contains("Command too long before login"), "{r}");
}

#[tokio::test]
async fn a_client_that_never_logs_in_is_sent_away() {
    let w = world_with(
        "pre-count",
        true,
        &[("CONTINUITY_IMAP_LOGIN_TIMEOUT", "1s")],
    )
    .await;
    // twenty commands, then no more
    let mut c = connect(&w, true).await;
    for i in 0..20 {
        let r = c.cmd(&format!("n{i}"), "NOOP").await;
        assert!(r.contains(&format!("n{i} OK")), "{r}");
    }
    c.send("n20 NOOP\r\n").await;
    let r = c.read_until("* BYE").await;
    assert!(r.contains("Too many commands before login"), "{r}");
    // one deadline from connecting, however busy the client keeps it
    let mut c = connect(&w, true).await;
    let r = c.cmd("a", "CAPABILITY").await;
    assert!(r.contains("a OK"), "{r}");
    let r = c.read_until("* BYE").await;
    assert!(r.contains("* BYE Autologout: log in sooner"), "{r}");
}

#[tokio::test]
async fn after_login_large_appends_are_fine_within_the_quota() {
    let w = world_with(
        "append-quota",
        true,
        &[("CONTINUITY_IMAP_APPEND_QUOTA", "200KiB")],
    )
    .await;
    let mut c = logged_in(&w).await;
    let body = format!(
        "From: alice@example.test\r\nSubject: big\r\n\r\n{}\r\n",
        "y".repeat(120_000)
    );
    c.send(&format!("a APPEND Sent {{{}+}}\r\n{body}\r\n", body.len()))
        .await;
    let r = c.read_until("a ").await;
    assert!(r.contains("a OK [APPENDUID"), "{r}");
    // a second one would pass the quota: refused, said why
    let body2 = body.replace("Subject: big", "Subject: bigger");
    c.send(&format!(
        "b APPEND Sent {{{}+}}\r\n{body2}\r\n",
        body2.len()
    ))
    .await;
    let r = c.read_until("b ").await;
    assert!(r.contains("b NO [OVERQUOTA]"), "{r}");
    let (n, bytes) = w.store.appended_usage(w.alice).await.expect("usage");
    assert_eq!(n, 1);
    assert!(bytes >= 120_000);
}
