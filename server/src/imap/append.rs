//! APPEND (RFC 3501 §6.3.11, UIDPLUS's APPENDUID): a message a mail app
//! keeps in one of the user's folders — archived and searchable, never
//! delivered — within the quota of mail users add themselves (RFC 9208).

use imap_next::imap_types::core::Tag;
use imap_next::imap_types::datetime::DateTime;
use imap_next::imap_types::extensions::binary::LiteralOrLiteral8;
use imap_next::imap_types::flag::Flag;
use imap_next::imap_types::mailbox::Mailbox;
use imap_next::imap_types::response::{Code, Response};

use super::reply::{bad, code, no, nz, ok, unavailable};
use super::session::{After, Outcome, Session};

impl Session {
    pub(super) async fn append(
        &mut self,
        tag: &Tag<'static>,
        m: &Mailbox<'_>,
        flags: &[Flag<'_>],
        date: Option<DateTime>,
        message: &LiteralOrLiteral8<'_>,
    ) -> Outcome {
        let raw = match message {
            LiteralOrLiteral8::Literal(l) => l.data().to_vec(),
            LiteralOrLiteral8::Literal8(l) => l.data.to_vec(),
        };
        let at = date.map(|d| d.as_ref().timestamp_millis());
        let Some(user) = self.user() else {
            return Outcome::one(bad(tag, "Log in first"));
        };
        let folder = match self.folder_named(user, m).await {
            Ok(Some(f)) => f,
            Ok(None) => return Outcome::one(no(tag, Some(Code::TryCreate), "No such mailbox")),
            Err(_) => return Outcome::one(unavailable(tag)),
        };
        if raw.is_empty() {
            return Outcome::one(no(tag, None, "An empty message cannot be appended"));
        }
        let given = match super::flags::given(flags) {
            Ok(g) => g,
            Err(e) => return Outcome::one(bad(tag, &e)),
        };
        let mut f = given.flags;
        let store = &self.ctx.store;
        if !given.keywords.is_empty() {
            let names: Vec<&str> = given.keywords.iter().map(String::as_str).collect();
            match store.imap_keyword_bits(user, &names).await {
                Ok(Ok((bits, _))) => f.keywords = bits,
                Ok(Err(r)) => return Outcome::one(super::flags::refused(tag, r)),
                Err(_) => return Outcome::one(unavailable(tag)),
            }
        }
        // RFC 9208 §4.3: what a user appends is theirs to keep, within a quota
        match store.appended_usage(user).await {
            Ok((_, bytes))
                if (bytes.max(0) as u64).saturating_add(raw.len() as u64)
                    > self.ctx.append_quota =>
            {
                tracing::info!(user = %user, bytes, "APPEND refused: quota");
                return Outcome::one(no(
                    tag,
                    code("OVERQUOTA"),
                    &format!(
                        "Your mailbox holds {} MiB of mail you added yourself; the most is {} MiB",
                        bytes.max(0) / (1 << 20),
                        self.ctx.append_quota / (1 << 20)
                    ),
                ));
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %e, "APPEND quota lookup failed");
                return Outcome::one(unavailable(tag));
            }
        }
        let uid = match store.imap_append(user, folder, &raw, f, at).await {
            Ok(u) => u,
            Err(e) => {
                tracing::error!(error = %e, "APPEND failed");
                return Outcome::one(unavailable(tag));
            }
        };
        let validity = store
            .folder_uid_validity(user, folder)
            .await
            .ok()
            .flatten()
            .unwrap_or(1);
        let mut responses = self.changes().await;
        responses.push(Response::Status(ok(
            tag,
            Some(Code::AppendUid {
                uid_validity: nz(validity),
                uid: nz(uid),
            }),
            "APPEND completed",
        )));
        Outcome {
            responses,
            after: After::Nothing,
            job: None,
        }
    }
}
