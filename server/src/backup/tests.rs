//! Backups taken while mail is stored, restored; damaged, foreign and
//! newer ones refused.

use super::*;
use crate::store::testing::{message_to_alice, Scratch};
use crate::store::{MessageId, Store};

async fn store_with_alice(dir: &Path) -> (Store, crate::store::UserId, crate::store::DomainId) {
    let store = Store::open(&dir.join("continuity.db"))
        .await
        .expect("store");
    store
        .add_domain(
            "example.test",
            "127.0.0.1",
            2526,
            crate::config::TlsMode::None,
        )
        .await
        .expect("domain");
    let alice = store
        .add_user("alice@example.test", "Alice", &[], "local")
        .await
        .expect("user")
        .id;
    let domain = crate::store::testing::domain_of(&store, "alice@example.test").await;
    (store, alice, domain)
}

#[tokio::test]
async fn a_backup_taken_while_mail_is_stored_restores_every_message_committed_before_it() {
    let s = Scratch::new("backup");
    let live = s.path().join("live");
    let (store, alice, domain) = store_with_alice(&live).await;
    let mut before: Vec<(MessageId, Vec<u8>)> = Vec::new();
    for i in 0..40 {
        let m = message_to_alice(
            &format!("before {i}"),
            &"x".repeat(i * 100),
            domain,
            Some(alice),
        );
        let raw = m.raw.clone();
        before.push((store.ingest(m).await.expect("stored"), raw));
    }
    // more mail keeps coming while the backup is taken
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 0..200 {
                let m = message_to_alice(&format!("during {i}"), "y", domain, Some(alice));
                store.ingest(m).await.expect("stored");
            }
        })
    };
    let out = s.path().join("b.tar.zst");
    let m = backup(&live.join("continuity.db"), &live, &out)
        .await
        .expect("backup");
    writer.await.expect("writer");
    assert_eq!(m.format, FORMAT);
    assert!(m.counts["messages"] >= 40, "{:?}", m.counts);
    assert!(!beside(&out, ".db-partial").exists() && !beside(&out, ".partial").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out)
            .expect("backup")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the backup is private: {mode:o}");
    }

    let restored_dir = s.path().join("restored");
    let db = restored_dir.join("continuity.db");
    let r = restore(&out, &restored_dir, &db).await.expect("restore");
    assert_eq!(r.manifest, m);
    assert!(r.pending.is_empty());
    let restored = Store::open(&db).await.expect("restored store");
    for (id, raw) in &before {
        assert_eq!(
            restored.raw_message(*id).await.expect("read").as_deref(),
            Some(raw.as_slice()),
            "message {id} byte for byte"
        );
    }
    // and again into a directory that is no longer empty: refused
    let e = restore(&out, &restored_dir, &db)
        .await
        .expect_err("not empty");
    assert!(e.to_string().contains("exists"), "{e}");
}

#[tokio::test]
async fn a_damaged_or_foreign_or_newer_backup_is_refused_and_leaves_nothing() {
    let s = Scratch::new("backup-bad");
    let live = s.path().join("live");
    let (store, alice, domain) = store_with_alice(&live).await;
    for i in 0..5 {
        store
            .ingest(message_to_alice(
                &format!("m {i}"),
                "body",
                domain,
                Some(alice),
            ))
            .await
            .expect("stored");
    }
    let good = s.path().join("good.tar.zst");
    let m = backup(&live.join("continuity.db"), &live, &good)
        .await
        .expect("backup");
    let bytes = std::fs::read(&good).expect("read");

    let refused = |name: &str, content: Vec<u8>, why: &'static str| {
        let file = s.path().join(name);
        std::fs::write(&file, content).expect("write");
        let dir = s.path().join(format!("into-{name}"));
        (file, dir, why)
    };
    let mut flipped = bytes.clone();
    let at = flipped.len() / 2;
    flipped[at] ^= 0x55;
    let cases = vec![
        refused("flipped", flipped, "damaged"),
        refused("cut", bytes[..bytes.len() * 2 / 3].to_vec(), ""),
        refused(
            "foreign",
            b"hello, this is not a backup".to_vec(),
            "not a Continuity backup",
        ),
    ];
    for (file, dir, why) in cases {
        let db = dir.join("continuity.db");
        let e = restore(&file, &dir, &db).await.expect_err("refused");
        assert!(e.to_string().contains(why), "{}: {e}", file.display());
        assert!(!db.exists(), "{}: a database was left", file.display());
        assert!(!beside(&db, ".restoring").exists());
    }

    // a newer version's backup: refused before anything is written
    let mut newer = m.clone();
    newer.migrations.push(99_990_101_000_001);
    newer.version = "9.0.0".into();
    let copy = s.path().join("copy.db");
    snapshot::copy_into(&live.join("continuity.db"), &copy)
        .await
        .expect("copy");
    newer.database = entry_of(&copy, DATABASE).expect("entry");
    let newer_file = s.path().join("newer.tar.zst");
    write_archive(&newer, &copy, &live, &newer_file).expect("archive");
    let dir = s.path().join("into-newer");
    let e = restore(&newer_file, &dir, &dir.join("continuity.db"))
        .await
        .expect_err("newer");
    assert!(
        e.to_string().contains("made by Continuity 9.0.0")
            && e.to_string().contains("99990101000001"),
        "{e}"
    );
    assert!(!dir.exists(), "nothing was written for a newer backup");

    // a manifest whose checksum does not match the database
    let mut lying = m.clone();
    lying.database.sha256 = "0".repeat(64);
    let lying_file = s.path().join("lying.tar.zst");
    write_archive(&lying, &copy, &live, &lying_file).expect("archive");
    let dir = s.path().join("into-lying");
    let e = restore(&lying_file, &dir, &dir.join("continuity.db"))
        .await
        .expect_err("lying");
    assert!(e.to_string().contains("SHA-256"), "{e}");
    assert!(!dir.join("continuity.db").exists());

    // the good one still restores
    let dir = s.path().join("into-good");
    restore(&good, &dir, &dir.join("continuity.db"))
        .await
        .expect("restore");
}
