//! Email Live Tracking in the store: every filter, paging both ways, the
//! three scopes tried against each other's mail, refused transactions, the
//! timeline of a message held during an outage, and redelivery.

use crate::common;

use server::config::TlsMode;
use server::directory::{RcptVerdict, RecipientPolicy};
use server::monitor::{self, state::Input};
use server::store::tracking::{Cursor, Direction, Filter, Scope, Status, TrackRow};
use server::store::{
    now_ms, DeliveryId, DomainId, MessageId, NewMessage, NewRecipient, Origin, Outcome, Rejection,
    Store, Summary,
};

struct World {
    store: Store,
    example: DomainId,
    other: DomainId,
}

async fn ingest(store: &Store, from: &str, rcpt: &str, subject: &str) -> MessageId {
    let snap = store.directory_snapshot().await.expect("snapshot");
    let (domain, user) = match snap.check(rcpt) {
        RcptVerdict::Accept { domain, user } => (Some(domain), user),
        _ => (None, None),
    };
    let raw = format!("From: {from}\r\nTo: {rcpt}\r\nSubject: {subject}\r\n\r\nbody\r\n");
    store
        .ingest(NewMessage {
            origin: Origin::Smtp,
            mail_from: from.into(),
            client_ip: Some("192.0.2.7".into()),
            helo: Some("mx.remote.test".into()),
            tls: true,
            summary: Summary::parse(raw.as_bytes()),
            raw: raw.into_bytes(),
            recipients: vec![NewRecipient {
                rcpt: rcpt.into(),
                domain,
                user,
            }],
            in_reply_to: None,
            sign_as: None,
        })
        .await
        .expect("ingest")
}

async fn settle(store: &Store, outcome: impl Fn(&str) -> Option<Outcome>) {
    for c in store
        .claim_due("test", 100, now_ms() + 1)
        .await
        .expect("claim")
    {
        match outcome(&c.rcpt) {
            Some(o) => store.record_outcome(&c, o).await.expect("outcome"),
            None => store
                .record_outcome(
                    &c,
                    Outcome::Deferred {
                        reply: "451 4.3.0 try later".into(),
                        remote: "primary".into(),
                        next_attempt_at: now_ms() + 3_600_000,
                    },
                )
                .await
                .expect("outcome"),
        }
    }
}

async fn world(tag: &str) -> World {
    let dir = common::temp_dir(tag);
    let store = server::store::testing::open(&dir).await.expect("store");
    let example = store
        .add_domain("example.test", "127.0.0.1", 9, TlsMode::None)
        .await
        .expect("d")
        .id;
    let other = store
        .add_domain("other.test", "127.0.0.1", 9, TlsMode::None)
        .await
        .expect("d")
        .id;
    for a in ["alice@example.test", "bob@example.test", "dave@other.test"] {
        store.add_user(a, "", &[], "local").await.expect("user");
    }
    ingest(
        &store,
        "cfo@remote.test",
        "alice@example.test",
        "Quarterly invoice 50%_off",
    )
    .await;
    ingest(&store, "chef@remote.test", "Bob@Example.test", "Lunch menu").await;
    ingest(
        &store,
        "cfo@remote.test",
        "dave@other.test",
        "Quarterly figures",
    )
    .await;
    settle(&store, |rcpt| match rcpt {
        "alice@example.test" => Some(Outcome::Delivered {
            reply: "250 2.0.0 Ok".into(),
            remote: "primary".into(),
        }),
        "Bob@Example.test" => Some(Outcome::Bounced {
            reply: "550 5.1.1 no such user".into(),
            remote: "primary".into(),
            dsn: None,
        }),
        _ => None,
    })
    .await;
    store.record_rejection(Rejection {
        client_ip: "198.51.100.9".into(),
        helo: Some("spam.test".into()),
        mail_from: Some("spam@bad.test".into()),
        rcpt: Some("nobody@example.test".into()),
        reply: "550 5.1.1 unknown user".into(),
    });
    store.record_rejection(Rejection {
        client_ip: "198.51.100.9".into(),
        helo: Some("spam.test".into()),
        mail_from: Some("spam@bad.test".into()),
        rcpt: Some("someone@elsewhere.test".into()),
        reply: "550 5.7.1 relay denied".into(),
    });
    store.flush().await.expect("flush");
    World {
        store,
        example,
        other,
    }
}

fn rcpts(rows: &[TrackRow]) -> Vec<String> {
    rows.iter()
        .map(|r| format!("{}:{}", r.rcpt, r.status))
        .collect()
}

#[tokio::test]
async fn filters_scopes_and_pages() {
    let w = world("tracking-filters").await;
    let s = &w.store;
    let all = |f: Filter| async move { s.tracking(&Scope::All, &f, None, 50).await.expect("q") };
    let every = all(Filter::default()).await;
    assert_eq!(every.len(), 5, "{:?}", rcpts(&every));
    // newest first: the refusals came last
    assert!(every[0].refused && every[1].refused);
    assert!(every.windows(2).all(|p| p[0].at >= p[1].at));

    let by_status = |st| Filter {
        status: Some(st),
        ..Default::default()
    };
    assert_eq!(
        rcpts(&all(by_status(Status::Delivered)).await),
        ["alice@example.test:delivered"]
    );
    assert_eq!(
        rcpts(&all(by_status(Status::Bounced)).await),
        ["Bob@Example.test:bounced"]
    );
    assert_eq!(
        rcpts(&all(by_status(Status::Delayed)).await),
        ["dave@other.test:delayed"]
    );
    assert_eq!(all(by_status(Status::Rejected)).await.len(), 2);
    assert!(all(by_status(Status::Expired)).await.is_empty());
    // recipient: exact address whatever its case, or contained text
    let f = Filter {
        recipient: "bob@example.TEST".into(),
        ..Default::default()
    };
    assert_eq!(rcpts(&all(f).await), ["Bob@Example.test:bounced"]);
    let f = Filter {
        recipient: "other".into(),
        ..Default::default()
    };
    assert_eq!(rcpts(&all(f).await), ["dave@other.test:delayed"]);
    // sender, subject words, LIKE and FTS syntax are quoted
    let f = Filter {
        sender: "CFO@remote.test".into(),
        ..Default::default()
    };
    assert_eq!(all(f).await.len(), 2);
    let f = Filter {
        sender: "chef@".into(),
        ..Default::default()
    };
    assert_eq!(
        rcpts(&all(f).await),
        ["Bob@Example.test:bounced"],
        "sender text, contained"
    );
    let f = Filter {
        subject: "quarter".into(),
        ..Default::default()
    };
    assert_eq!(all(f).await.len(), 2);
    let f = Filter {
        recipient: "%".into(),
        ..Default::default()
    };
    assert!(all(f).await.is_empty(), "% is a character, not a wildcard");
    let f = Filter {
        subject: "\"quarterly\" OR lunch*".into(),
        ..Default::default()
    };
    assert!(
        all(f).await.is_empty(),
        "all the words, FTS operators as words"
    );
    // direction, domain, time
    let f = Filter {
        direction: Some(Direction::Outbound),
        ..Default::default()
    };
    assert!(all(f).await.is_empty());
    let f = Filter {
        domain: Some(w.other),
        ..Default::default()
    };
    assert_eq!(rcpts(&all(f).await), ["dave@other.test:delayed"]);
    let f = Filter {
        since: Some(now_ms() + 60_000),
        ..Default::default()
    };
    assert!(all(f).await.is_empty());

    // pages of 2, both orders, cover everything once
    for oldest_first in [false, true] {
        let f = Filter {
            oldest_first,
            ..Default::default()
        };
        let mut seen = Vec::new();
        let mut after: Option<Cursor> = None;
        loop {
            let page = s.tracking(&Scope::All, &f, after, 2).await.expect("page");
            if page.is_empty() {
                break;
            }
            after = page.last().map(TrackRow::cursor);
            seen.extend(page.into_iter().map(|r| (r.refused, r.id)));
        }
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!((seen.len(), unique.len()), (5, 5), "{seen:?}");
    }

    // pages of one through a subject filter and a sender filter (the
    // message-driven walks) cover their rows once, in time order
    for f in [
        Filter {
            subject: "quarterly".into(),
            ..Default::default()
        },
        Filter {
            sender: "cfo@remote.test".into(),
            oldest_first: true,
            ..Default::default()
        },
    ] {
        let mut seen = Vec::new();
        let mut after: Option<Cursor> = None;
        loop {
            let page = s.tracking(&Scope::All, &f, after, 1).await.expect("page");
            if page.is_empty() {
                break;
            }
            after = page.last().map(TrackRow::cursor);
            seen.extend(page.into_iter().map(|r| r.rcpt));
        }
        let want = if f.oldest_first {
            ["alice@example.test", "dave@other.test"]
        } else {
            ["dave@other.test", "alice@example.test"]
        };
        assert_eq!(seen, want, "{f:?}");
    }

    // a domain admin sees their domain's mail and the refusals addressed to it
    let admin = Scope::Domains(vec![(w.example, "example.test".into())]);
    let mine = s
        .tracking(&admin, &Filter::default(), None, 50)
        .await
        .expect("q");
    assert_eq!(
        rcpts(&mine),
        [
            "nobody@example.test:rejected",
            "Bob@Example.test:bounced",
            "alice@example.test:delivered"
        ]
    );
    // asking for another domain is refused, not answered empty
    let f = Filter {
        domain: Some(w.other),
        ..Default::default()
    };
    assert!(matches!(
        s.tracking(&admin, &f, None, 50).await,
        Err(server::store::StoreError::NotFound(_))
    ));
    assert!(s
        .tracking(&Scope::Domains(vec![]), &Filter::default(), None, 50)
        .await
        .expect("q")
        .is_empty());
    // a user sees their own mail only, never refusals
    let alice = s
        .account_by_address("alice@example.test")
        .await
        .expect("q")
        .expect("a")
        .user;
    let own = s
        .tracking(&Scope::User(alice), &Filter::default(), None, 50)
        .await
        .expect("q");
    assert_eq!(rcpts(&own), ["alice@example.test:delivered"]);
    // single rows and messages, by scope
    let dave_row = every
        .iter()
        .find(|r| r.rcpt == "dave@other.test")
        .expect("dave");
    let dave_msg = dave_row.message.expect("message");
    assert!(s
        .tracked_delivery(&admin, DeliveryId(dave_row.id))
        .await
        .expect("q")
        .is_none());
    assert!(!s.may_see_message(&admin, dave_msg).await.expect("q"));
    assert!(!s
        .may_see_message(&Scope::User(alice), dave_msg)
        .await
        .expect("q"));
    assert!(s.may_see_message(&Scope::All, dave_msg).await.expect("q"));
}

#[tokio::test]
async fn a_message_held_during_an_outage_has_the_whole_story_and_can_be_redelivered() {
    let w = world("tracking-timeline").await;
    let s = &w.store;
    monitor::command(s, "mx", w.example, Input::ActivateNow { by: "ops".into() })
        .await
        .expect("activate");
    let held = ingest(
        s,
        "cfo@remote.test",
        "alice@example.test",
        "During the outage",
    )
    .await;
    monitor::command(s, "mx", w.example, Input::End { by: "ops".into() })
        .await
        .expect("end");
    settle(s, |rcpt| {
        (rcpt == "alice@example.test").then(|| Outcome::Delivered {
            reply: "250 2.0.0 Ok: queued as 4XyZ".into(),
            remote: "127.0.0.1:2526".into(),
        })
    })
    .await;
    let f = Filter {
        via_continuity: Some(true),
        ..Default::default()
    };
    let rows = s.tracking(&Scope::All, &f, None, 50).await.expect("q");
    assert_eq!(rcpts(&rows), ["alice@example.test:delivered"]);
    assert_eq!(rows[0].message, Some(held));
    let kinds: Vec<String> = s
        .events_of(held)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            "received",
            "queued",
            "held",
            "released",
            "attempt",
            "delivered"
        ]
    );

    // redelivery from the archive: back in the queue, tracked with who asked
    let id = DeliveryId(rows[0].id);
    s.redeliver(id, "ops@provider.test")
        .await
        .expect("redeliver");
    let again = s
        .tracked_delivery(&Scope::All, id)
        .await
        .expect("q")
        .expect("row");
    assert_eq!(again.status, "queued");
    let last = s
        .events_of(held)
        .await
        .expect("events")
        .pop()
        .expect("event");
    assert_eq!(last.kind, "requeued");
    assert!(last.detail.contains("ops@provider.test"));
    // not while it is still waiting
    match s.redeliver(id, "ops").await {
        Err(server::store::StoreError::Invalid(why)) => {
            assert!(why.contains("it will be delivered anyway"), "{why}")
        }
        other => panic!("{other:?}"),
    }
}
