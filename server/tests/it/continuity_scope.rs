//! The Continuity Service scope rules and user suggestions, against the
//! store.

use crate::common;

use common::control::setup;
use server::store::control::ScopeError;
use server::store::Store;

#[tokio::test]
async fn scope_rules_switching_confirmation_removal_and_re_adding() {
    let s = setup("cp-scope").await;
    let st = &s.store;
    let d = s.example;
    let covered = |addr: &'static str| {
        let st = st.clone();
        async move {
            st.account_by_address(addr)
                .await
                .expect("q")
                .expect("user")
                .covered
        }
    };
    assert!(covered("alice@example.test").await, "all users by default");

    // adding needs "selected users only"
    assert!(matches!(
        st.add_continuity_user(d, "alice@example.test", "t").await,
        Err(ScopeError::ScopeIsAll)
    ));
    assert!(st
        .set_continuity_scope(d, "selected", false, "admin@example.test")
        .await
        .expect("scope"));
    assert!(!covered("alice@example.test").await, "nobody selected yet");

    // by alias: the user is added under their primary address
    assert_eq!(
        st.add_continuity_user(d, "A.Martin@example.test", "admin@example.test")
            .await
            .expect("add"),
        "alice@example.test"
    );
    assert_eq!(
        st.add_continuity_user(d, "bob@example.test", "admin@example.test")
            .await
            .expect("add"),
        "bob@example.test"
    );
    assert!(covered("alice@example.test").await && !covered("carol@example.test").await);
    assert!(matches!(
        st.add_continuity_user(d, "alice@example.test", "x").await,
        Err(ScopeError::Duplicate(_))
    ));
    assert!(matches!(
        st.add_continuity_user(d, "nobody@example.test", "x").await,
        Err(ScopeError::Unknown(_))
    ));
    assert!(matches!(
        st.add_continuity_user(d, "dave@other.test", "x").await,
        Err(ScopeError::OtherDomain(_))
    ));
    assert!(matches!(
        st.add_continuity_user(d, "ali", "x").await,
        Err(ScopeError::NotAnAddress(_))
    ));
    let listed = |st: Store| async move {
        st.continuity_settings(d)
            .await
            .expect("q")
            .expect("settings")
            .users
            .into_iter()
            .map(|(_, a, _)| a)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        listed(st.clone()).await,
        ["alice@example.test", "bob@example.test"]
    );

    // switching to all users with users listed: warning first, nothing changed
    assert!(matches!(
        st.set_continuity_scope(d, "all", false, "admin@example.test")
            .await,
        Err(ScopeError::NeedsConfirmation(2))
    ));
    assert_eq!(listed(st.clone()).await.len(), 2);
    assert_eq!(
        st.continuity_settings(d)
            .await
            .expect("q")
            .expect("s")
            .scope,
        "selected"
    );
    // Confirmer: the listed users are removed, every user is covered
    assert!(st
        .set_continuity_scope(d, "all", true, "admin@example.test")
        .await
        .expect("confirmed"));
    assert!(listed(st.clone()).await.is_empty());
    assert!(covered("carol@example.test").await);
    // back to selected: the list starts empty, users can be added again
    st.set_continuity_scope(d, "selected", false, "admin@example.test")
        .await
        .expect("scope");
    st.add_continuity_user(d, "bob@example.test", "admin@example.test")
        .await
        .expect("re-add");
    let bob = st
        .account_by_address("bob@example.test")
        .await
        .expect("q")
        .expect("bob")
        .user;
    assert!(st
        .remove_continuity_user(d, bob, "admin@example.test")
        .await
        .expect("remove"));
    assert!(!st
        .remove_continuity_user(d, bob, "admin@example.test")
        .await
        .expect("again"));

    // deactivated: nobody covered, and adding is refused
    assert!(st
        .set_continuity_enabled(d, false, "admin@example.test")
        .await
        .expect("off"));
    assert!(matches!(
        st.add_continuity_user(d, "bob@example.test", "x").await,
        Err(ScopeError::Deactivated)
    ));
    assert!(!covered("alice@example.test").await);

    // every change is in the audit trail, with who and before/after
    let audit = st.audit_log(d, 50).await.expect("audit");
    let actions: Vec<_> = audit.iter().rev().map(|a| a.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "continuity.scope",
            "continuity.user.add",
            "continuity.user.add",
            "continuity.scope",
            "continuity.scope",
            "continuity.user.add",
            "continuity.user.remove",
            "continuity.enabled"
        ]
    );
    let confirm = &audit[audit.len() - 4];
    assert_eq!(
        confirm.before.as_deref(),
        Some("selected: alice@example.test, bob@example.test")
    );
    assert_eq!(confirm.after.as_deref(), Some("all"));
    assert!(audit.iter().all(|a| a.actor == "admin@example.test"));
    assert!(st.audit_log(s.other, 50).await.expect("audit").is_empty());
}

#[tokio::test]
async fn suggestions_need_three_characters_and_stay_in_the_domain() {
    let s = setup("cp-suggest").await;
    let st = &s.store;
    let names = |v: Vec<(String, String)>| v.into_iter().map(|(a, _)| a).collect::<Vec<_>>();
    assert!(st
        .suggest_users(s.example, "al", "", 10)
        .await
        .expect("q")
        .is_empty());
    assert_eq!(
        names(st.suggest_users(s.example, "mar", "", 10).await.expect("q")),
        ["a.martin@example.test"]
    );
    assert_eq!(
        names(
            st.suggest_users(s.example, "ple.te", "", 2)
                .await
                .expect("q")
        ),
        ["a.martin@example.test", "alice@example.test"],
        "paged"
    );
    assert_eq!(
        names(
            st.suggest_users(s.example, "ple.te", "alice@example.test", 10)
                .await
                .expect("q")
        ),
        ["bob@example.test", "carol@example.test"],
        "next page"
    );
    assert!(
        st.suggest_users(s.example, "dave", "", 10)
            .await
            .expect("q")
            .is_empty(),
        "other domain"
    );
    // LIKE wildcards are literal
    assert!(st
        .suggest_users(s.example, "%%%", "", 10)
        .await
        .expect("q")
        .is_empty());
    assert!(st
        .suggest_users(s.example, "___", "", 10)
        .await
        .expect("q")
        .is_empty());
}
