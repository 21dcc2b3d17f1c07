//! The mailboxes a user has here: INBOX, Sent and Trash (RFC 6154
//! SPECIAL-USE `\\Sent`, `\\Trash`), named as IMAP names them; LIST / LSUB (RFC 3501 §6.3.8,
//! §6.3.9) and STATUS (§6.3.10).

use std::num::NonZeroU32;

use imap_next::imap_types::core::{QuotedChar, Tag};
use imap_next::imap_types::flag::FlagNameAttribute;
use imap_next::imap_types::mailbox::{ListMailbox, Mailbox};
use imap_next::imap_types::response::{Code, Data, Response};
use imap_next::imap_types::status::{StatusDataItem, StatusDataItemName};

use super::session::{bad, no, ok, unavailable, After, Outcome, Session};
use crate::store::mailbox::Folder;

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

/// Our folders by IMAP name ("INBOX" in any case, "Sent", "Trash").
pub fn folder_of(m: &Mailbox<'_>) -> Option<Folder> {
    match m {
        Mailbox::Inbox => Some(Folder::Inbox),
        Mailbox::Other(o) => {
            let name = String::from_utf8_lossy(o.as_ref());
            if name.eq_ignore_ascii_case("inbox") {
                Some(Folder::Inbox)
            } else if name == "Sent" {
                Some(Folder::Sent)
            } else if name == "Trash" {
                Some(Folder::Trash)
            } else {
                None
            }
        }
    }
}

pub fn mailbox_of(f: Folder) -> Mailbox<'static> {
    match f {
        Folder::Inbox => Mailbox::Inbox,
        Folder::Sent => Mailbox::try_from("Sent").unwrap_or(Mailbox::Inbox),
        Folder::Trash => Mailbox::try_from("Trash").unwrap_or(Mailbox::Inbox),
    }
}

/// RFC 3501 §6.3.8 wildcards: `*` anything, `%` anything but the
/// hierarchy delimiter (we have none below the top).
pub fn wildcard(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some(('*' | '%', rest)) => (0..=n.len()).any(|i| go(rest, &n[i..])),
            Some((c, rest)) => n
                .split_first()
                .is_some_and(|(d, nrest)| c == d && go(rest, nrest)),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

impl Session {
    pub(super) fn list(
        &self,
        tag: &Tag<'static>,
        reference: &Mailbox<'_>,
        pattern: &ListMailbox<'_>,
        lsub: bool,
    ) -> Outcome {
        let reference = match reference {
            Mailbox::Inbox => "INBOX".to_string(),
            Mailbox::Other(o) => String::from_utf8_lossy(o.as_ref()).into_owned(),
        };
        let pattern = match pattern {
            ListMailbox::Token(t) => String::from_utf8_lossy(t.as_ref()).into_owned(),
            ListMailbox::String(s) => String::from_utf8_lossy(s.as_ref()).into_owned(),
        };
        let delimiter = QuotedChar::try_from('/').ok();
        let mut responses = Vec::new();
        if pattern.is_empty() && !lsub {
            // RFC 3501 §6.3.8: the hierarchy delimiter and root
            responses.push(Response::Data(Data::List {
                items: vec![FlagNameAttribute::Noselect],
                delimiter,
                mailbox: Mailbox::try_from("").unwrap_or(Mailbox::Inbox),
            }));
        } else {
            let full = format!("{reference}{pattern}");
            for (name, folder) in [
                ("INBOX", Folder::Inbox),
                ("Sent", Folder::Sent),
                ("Trash", Folder::Trash),
            ] {
                let hit = if name == "INBOX" {
                    wildcard(&full.to_ascii_uppercase(), name)
                } else {
                    wildcard(&full, name)
                };
                if !hit {
                    continue;
                }
                let mut items = vec![FlagNameAttribute::from(
                    imap_next::imap_types::core::Atom::try_from("HasNoChildren").expect("an atom"),
                )];
                // RFC 6154 SPECIAL-USE
                let special = match folder {
                    Folder::Sent => Some("Sent"),
                    Folder::Trash => Some("Trash"),
                    Folder::Inbox => None,
                };
                if let Some(use_) = special {
                    items.push(FlagNameAttribute::from(
                        imap_next::imap_types::core::Atom::try_from(use_).expect("an atom"),
                    ));
                }
                let mailbox = mailbox_of(folder);
                responses.push(Response::Data(if lsub {
                    Data::Lsub {
                        items,
                        delimiter,
                        mailbox,
                    }
                } else {
                    Data::List {
                        items,
                        delimiter,
                        mailbox,
                    }
                }));
            }
        }
        responses.push(Response::Status(ok(
            tag,
            None,
            if lsub {
                "LSUB completed"
            } else {
                "LIST completed"
            },
        )));
        Outcome {
            responses,
            after: After::Nothing,
            job: None,
        }
    }

    pub(super) async fn status(
        &self,
        tag: &Tag<'static>,
        m: &Mailbox<'static>,
        names: &[StatusDataItemName],
    ) -> Outcome {
        let (Some(user), Some(folder)) = (self.user(), folder_of(m)) else {
            return Outcome::one(no(tag, Some(Code::TryCreate), "No such mailbox"));
        };
        let store = &self.ctx.store;
        let (Ok(counts), Ok(validity), Ok(next)) = (
            store.folder_state(user, folder).await,
            store.imap_uid_validity().await,
            store.imap_uid_next(user, folder).await,
        ) else {
            return Outcome::one(unavailable(tag));
        };
        let mut items = Vec::new();
        for n in names {
            items.push(match n {
                StatusDataItemName::Messages => StatusDataItem::Messages(counts.total),
                StatusDataItemName::Recent => StatusDataItem::Recent(0),
                StatusDataItemName::UidNext => StatusDataItem::UidNext(nz(next)),
                StatusDataItemName::UidValidity => StatusDataItem::UidValidity(nz(validity)),
                StatusDataItemName::Unseen => StatusDataItem::Unseen(counts.unseen),
                StatusDataItemName::Deleted => StatusDataItem::Deleted(counts.deleted),
                StatusDataItemName::HighestModSeq => StatusDataItem::HighestModSeq(counts.modseq),
                _ => return Outcome::one(bad(tag, "Unsupported STATUS item")),
            });
        }
        Outcome {
            responses: vec![
                Response::Data(Data::Status {
                    mailbox: m.clone(),
                    items: items.into(),
                }),
                Response::Status(ok(tag, None, "STATUS completed")),
            ],
            after: After::Nothing,
            job: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::wildcard;

    #[test]
    fn list_wildcards() {
        assert!(wildcard("*", "Sent"));
        assert!(wildcard("%", "INBOX"));
        assert!(wildcard("S*", "Sent"));
        assert!(wildcard("Se%t", "Sent"));
        assert!(!wildcard("Trash", "Sent"));
        assert!(!wildcard("", "INBOX"));
    }
}
