//! The mailboxes a user has here, named as IMAP names them: INBOX, Sent
//! and Trash (RFC 6154 SPECIAL-USE `\Sent`, `\Trash`), and the user's own
//! folders ([`crate::store::folders`]) with `/` between levels, Drafts,
//! Junk and Archive among them, made on demand. LIST / LSUB (RFC 3501
//! §6.3.8, §6.3.9), STATUS (§6.3.10), CREATE, DELETE, RENAME (§6.3.3–5)
//! and SUBSCRIBE / UNSUBSCRIBE (§6.3.6–7).

use std::collections::BTreeSet;

use imap_next::imap_types::core::{Atom, QuotedChar, Tag};
use imap_next::imap_types::flag::FlagNameAttribute;
use imap_next::imap_types::mailbox::{ListMailbox, Mailbox};
use imap_next::imap_types::response::{Data, Response, Status};
use imap_next::imap_types::status::{StatusDataItem, StatusDataItemName};

use super::mutf7;
use super::reply::{bad, code, no, nz, ok, unavailable};
use super::session::{After, Outcome, Session};
use crate::store::folders::{FolderError, FolderRefusal, SpecialUse, UserFolder, SEPARATOR};
use crate::store::mailbox::Folder;
use crate::store::{StoreError, UserId};

/// A mailbox name as the client gave it, sorted out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Named {
    Inbox,
    Sent,
    Trash,
    /// A name for one of the user's folders (which may not exist), UTF-8.
    User(String),
}

impl Named {
    /// None when the name is not valid modified UTF-7 (or, with
    /// UTF8=ACCEPT enabled, UTF-8: RFC 6855 §3).
    pub fn of(m: &Mailbox<'_>, utf8: bool) -> Option<Named> {
        match m {
            Mailbox::Inbox => Some(Named::Inbox),
            Mailbox::Other(o) => {
                let name = if utf8 {
                    String::from_utf8(o.as_ref().to_vec()).ok()?
                } else {
                    mutf7::decode(o.as_ref())?
                };
                Some(if name.eq_ignore_ascii_case("INBOX") {
                    Named::Inbox
                } else if name == "Sent" {
                    Named::Sent
                } else if name == "Trash" {
                    Named::Trash
                } else {
                    Named::User(name)
                })
            }
        }
    }
}

/// A folder's name as the session writes it: UTF-8 once UTF8=ACCEPT is
/// enabled, else modified UTF-7.
fn wire(name: &str, utf8: bool) -> String {
    if utf8 {
        name.to_string()
    } else {
        mutf7::encode(name)
    }
}

/// The wire name of a folder as a mailbox.
fn mailbox_named(wire: &str) -> Mailbox<'static> {
    Mailbox::try_from(wire.to_string()).unwrap_or(Mailbox::Inbox)
}

fn attribute(name: &'static str) -> FlagNameAttribute<'static> {
    FlagNameAttribute::from(Atom::try_from(name).expect("an atom"))
}

/// RFC 3501 §6.3.8 wildcards: `*` anything, `%` anything but the
/// hierarchy delimiter.
pub fn wildcard(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some(('*', rest)) => (0..=n.len()).any(|i| go(rest, &n[i..])),
            Some(('%', rest)) => (0..=n.len())
                .take_while(|&i| i == 0 || n[i - 1] != SEPARATOR)
                .any(|i| go(rest, &n[i..])),
            Some((c, rest)) => n
                .split_first()
                .is_some_and(|(d, nrest)| c == d && go(rest, nrest)),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

/// Whether a wire name matches a wire pattern, INBOX in any case.
fn matches(pattern: &str, wire: &str) -> bool {
    if wire == "INBOX" {
        // the pattern's own "INBOX" part may be written in any case
        let upper = pattern
            .get(..5)
            .filter(|p| p.eq_ignore_ascii_case("INBOX"))
            .map(|p| format!("{}{}", p.to_ascii_uppercase(), &pattern[5..]));
        return wildcard(upper.as_deref().unwrap_or(pattern), wire);
    }
    wildcard(pattern, wire)
}

/// One mailbox as LIST shows it.
struct Listed {
    /// As the session writes it ([`wire`]).
    wire: String,
    special: Option<&'static str>,
    children: bool,
}

fn special_attribute(s: SpecialUse) -> &'static str {
    match s {
        SpecialUse::Drafts => "Drafts",
        SpecialUse::Junk => "Junk",
        SpecialUse::Archive => "Archive",
    }
}

/// Every mailbox of the user: the service's three, then theirs by name.
fn all_mailboxes(folders: &[UserFolder], utf8: bool) -> Vec<Listed> {
    let mut out = vec![
        Listed {
            wire: "INBOX".into(),
            special: None,
            children: false,
        },
        Listed {
            wire: "Sent".into(),
            special: Some("Sent"),
            children: false,
        },
        Listed {
            wire: "Trash".into(),
            special: Some("Trash"),
            children: false,
        },
    ];
    let parents: BTreeSet<&str> = folders.iter().filter_map(UserFolder::parent).collect();
    out.extend(folders.iter().map(|f| Listed {
        wire: wire(&f.name, utf8),
        special: f.special.map(special_attribute),
        children: parents.contains(f.name.as_str()),
    }));
    out
}

/// A folder operation's refusal as IMAP says it (RFC 5530 codes).
fn refused(tag: &Tag<'static>, e: FolderError) -> Outcome {
    let r = match e {
        FolderError::Refused(r) => r,
        FolderError::Store(e) => {
            tracing::error!(error = %e, "IMAP folder operation failed");
            return Outcome::one(unavailable(tag));
        }
    };
    let c = match r {
        FolderRefusal::Exists | FolderRefusal::Reserved => "ALREADYEXISTS",
        FolderRefusal::NotFound => "NONEXISTENT",
        FolderRefusal::HasChildren => "INUSE",
        FolderRefusal::TooMany => "LIMIT",
        FolderRefusal::Empty
        | FolderRefusal::TooLong
        | FolderRefusal::BadCharacter
        | FolderRefusal::BelowItself => "CANNOT",
    };
    let mut text = r.to_string();
    if let Some(first) = text.get(..1) {
        text = format!("{}{}", first.to_uppercase(), &text[1..]);
    }
    Outcome::one(no(tag, code(c), &text))
}

fn not_mutf7(tag: &Tag<'static>) -> Outcome {
    Outcome::one(no(
        tag,
        code("CANNOT"),
        "The mailbox name is not valid modified UTF-7 (RFC 3501 §5.1.3)",
    ))
}

fn done(tag: &Tag<'static>, t: &str) -> Outcome {
    Outcome::one(ok(tag, None, t))
}

fn nonexistent(tag: &Tag<'static>) -> Status<'static> {
    no(tag, code("NONEXISTENT"), "No such mailbox")
}

/// NAMESPACE (RFC 2342): one personal namespace, no prefix, `/` between
/// levels; nothing shared.
pub fn namespace(tag: &Tag<'static>) -> Outcome {
    use imap_next::imap_types::core::IString;
    use imap_next::imap_types::extensions::namespace::Namespace;
    let personal = IString::try_from("")
        .map(|prefix| vec![Namespace::new(prefix, QuotedChar::try_from(SEPARATOR).ok())])
        .unwrap_or_default();
    Outcome {
        responses: vec![
            Response::Data(Data::Namespace {
                personal,
                other: Vec::new(),
                shared: Vec::new(),
            }),
            Response::Status(ok(tag, None, "NAMESPACE completed")),
        ],
        after: After::Nothing,
        job: None,
    }
}

impl Session {
    /// The folder a mailbox name stands for (None: no such mailbox).
    pub(super) async fn folder_named(
        &self,
        user: UserId,
        m: &Mailbox<'_>,
    ) -> Result<Option<Folder>, StoreError> {
        Ok(match Named::of(m, self.utf8) {
            None => None,
            Some(Named::Inbox) => Some(Folder::Inbox),
            Some(Named::Sent) => Some(Folder::Sent),
            Some(Named::Trash) => Some(Folder::Trash),
            Some(Named::User(name)) => self
                .ctx
                .store
                .user_folder_named(user, &name)
                .await?
                .map(|f| f.folder()),
        })
    }

    /// The user's own folders, with Drafts, Junk and Archive made the
    /// first time this session lists them.
    async fn listed_folders(&mut self, user: UserId) -> Result<Vec<UserFolder>, StoreError> {
        let store = &self.ctx.store;
        if !self.specials_made {
            store.ensure_special_folders(user).await?;
            self.specials_made = true;
        }
        store.user_folders(user).await
    }

    pub(super) async fn list(
        &mut self,
        tag: &Tag<'static>,
        reference: &Mailbox<'_>,
        pattern: &ListMailbox<'_>,
        lsub: bool,
    ) -> Outcome {
        let Some(user) = self.user() else {
            return Outcome::one(bad(tag, "Log in first"));
        };
        let reference = match reference {
            Mailbox::Inbox => "INBOX".to_string(),
            Mailbox::Other(o) => String::from_utf8_lossy(o.as_ref()).into_owned(),
        };
        let pattern = match pattern {
            ListMailbox::Token(t) => String::from_utf8_lossy(t.as_ref()).into_owned(),
            ListMailbox::String(s) => String::from_utf8_lossy(s.as_ref()).into_owned(),
        };
        let delimiter = QuotedChar::try_from(SEPARATOR).ok();
        let mut responses = Vec::new();
        let data = |items, mailbox| {
            Response::Data(if lsub {
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
            })
        };
        if pattern.is_empty() && !lsub {
            // RFC 3501 §6.3.8: the hierarchy delimiter and root
            responses.push(Response::Data(Data::List {
                items: vec![FlagNameAttribute::Noselect],
                delimiter,
                mailbox: mailbox_named(""),
            }));
        } else {
            // RFC 3501 §6.3.8: the reference and the pattern are joined
            // (a pattern starting at the root leaves the reference out)
            let full = if pattern.starts_with(SEPARATOR) || reference.is_empty() {
                pattern
            } else if reference.ends_with(SEPARATOR) {
                format!("{reference}{pattern}")
            } else {
                format!("{reference}{SEPARATOR}{pattern}")
            };
            let folders = match self.listed_folders(user).await {
                Ok(f) => f,
                Err(e) => {
                    tracing::error!(error = %e, "IMAP LIST failed");
                    return Outcome::one(unavailable(tag));
                }
            };
            let all = all_mailboxes(&folders, self.utf8);
            if lsub {
                let subscribed = match self.ctx.store.subscriptions(user).await {
                    Ok(s) => s,
                    Err(_) => return Outcome::one(unavailable(tag)),
                };
                let mut shown = BTreeSet::new();
                // the service's own three are always subscribed
                let wires: BTreeSet<String> = ["INBOX", "Sent", "Trash"]
                    .into_iter()
                    .map(String::from)
                    .chain(subscribed.iter().map(|s| wire(s, self.utf8)))
                    .collect();
                for wire in &wires {
                    if matches(&full, wire) {
                        shown.insert((wire.clone(), false));
                        continue;
                    }
                    // RFC 3501 §6.3.9: a level above a subscribed name that
                    // "%" matches is shown \Noselect unless subscribed itself
                    for (i, _) in wire.match_indices(SEPARATOR) {
                        let above = &wire[..i];
                        if !wires.contains(above) && matches(&full, above) {
                            shown.insert((above.to_string(), true));
                        }
                    }
                }
                for (wire, noselect) in shown {
                    let mut items = Vec::new();
                    if noselect {
                        items.push(FlagNameAttribute::Noselect);
                    } else if let Some(s) =
                        all.iter().find(|l| l.wire == wire).and_then(|l| l.special)
                    {
                        items.push(attribute(s));
                    }
                    responses.push(data(items, mailbox_named(&wire)));
                }
            } else {
                for l in all.iter().filter(|l| matches(&full, &l.wire)) {
                    let mut items = vec![attribute(if l.children {
                        "HasChildren"
                    } else {
                        "HasNoChildren"
                    })];
                    if let Some(s) = l.special {
                        items.push(attribute(s));
                    }
                    responses.push(data(items, mailbox_named(&l.wire)));
                }
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
        let Some(user) = self.user() else {
            return Outcome::one(bad(tag, "Log in first"));
        };
        let folder = match self.folder_named(user, m).await {
            Ok(Some(f)) => f,
            Ok(None) => return Outcome::one(nonexistent(tag)),
            Err(_) => return Outcome::one(unavailable(tag)),
        };
        let store = &self.ctx.store;
        let (Ok(counts), Ok(Some(validity)), Ok(next)) = (
            store.folder_state(user, folder).await,
            store.folder_uid_validity(user, folder).await,
            store.imap_uid_next(user, folder).await,
        ) else {
            return Outcome::one(unavailable(tag));
        };
        let recent = if names.contains(&StatusDataItemName::Recent) {
            match store.imap_recent_count(user, folder).await {
                Ok(n) => n,
                Err(_) => return Outcome::one(unavailable(tag)),
            }
        } else {
            0
        };
        let mut items = Vec::new();
        for n in names {
            items.push(match n {
                StatusDataItemName::Messages => StatusDataItem::Messages(counts.total),
                StatusDataItemName::Recent => StatusDataItem::Recent(recent),
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

    pub(super) async fn create(&self, tag: &Tag<'static>, m: &Mailbox<'_>) -> Outcome {
        let Some(user) = self.user() else {
            return Outcome::one(bad(tag, "Log in first"));
        };
        let name = match Named::of(m, self.utf8) {
            None => return not_mutf7(tag),
            Some(Named::User(n)) => n,
            Some(_) => {
                return Outcome::one(no(tag, code("ALREADYEXISTS"), "The mailbox exists already"))
            }
        };
        // RFC 3501 §6.3.3: a trailing separator only says more levels may follow
        let name = name.strip_suffix(SEPARATOR).unwrap_or(&name);
        match self.ctx.store.create_folder(user, name, None).await {
            Ok(_) => done(tag, "CREATE completed"),
            Err(e) => refused(tag, e),
        }
    }

    pub(super) async fn delete(&mut self, tag: &Tag<'static>, m: &Mailbox<'_>) -> Outcome {
        let Some(user) = self.user() else {
            return Outcome::one(bad(tag, "Log in first"));
        };
        let name =
            match Named::of(m, self.utf8) {
                None => return not_mutf7(tag),
                Some(Named::User(n)) => n,
                Some(_) => return Outcome::one(no(
                    tag,
                    code("CANNOT"),
                    "INBOX, Sent and Trash are the service's own folders: they cannot be deleted",
                )),
            };
        let store = &self.ctx.store;
        let folder = match store.user_folder_named(user, &name).await {
            Ok(Some(f)) => f,
            Ok(None) => return Outcome::one(nonexistent(tag)),
            Err(_) => return Outcome::one(unavailable(tag)),
        };
        match store.delete_folder(user, folder.id).await {
            Ok(()) => done(tag, "DELETE completed"),
            Err(e) => refused(tag, e),
        }
    }

    pub(super) async fn rename(
        &self,
        tag: &Tag<'static>,
        from: &Mailbox<'_>,
        to: &Mailbox<'_>,
    ) -> Outcome {
        let Some(user) = self.user() else {
            return Outcome::one(bad(tag, "Log in first"));
        };
        let (Some(from), Some(to)) = (Named::of(from, self.utf8), Named::of(to, self.utf8)) else {
            return not_mutf7(tag);
        };
        let Named::User(to) = to else {
            return Outcome::one(no(tag, code("ALREADYEXISTS"), "The mailbox exists already"));
        };
        let store = &self.ctx.store;
        let result = match from {
            Named::Inbox => store.rename_inbox(user, &to).await.map(|_| ()),
            Named::Sent | Named::Trash => {
                return Outcome::one(no(
                    tag,
                    code("CANNOT"),
                    "Sent and Trash are the service's own folders: they keep their names",
                ))
            }
            Named::User(from) => match store.user_folder_named(user, &from).await {
                Ok(Some(f)) => store.rename_folder(user, f.id, &to).await,
                Ok(None) => return Outcome::one(nonexistent(tag)),
                Err(_) => return Outcome::one(unavailable(tag)),
            },
        };
        match result {
            Ok(()) => done(tag, "RENAME completed"),
            Err(e) => refused(tag, e),
        }
    }

    pub(super) async fn subscribe(&self, tag: &Tag<'static>, m: &Mailbox<'_>, on: bool) -> Outcome {
        let Some(user) = self.user() else {
            return Outcome::one(bad(tag, "Log in first"));
        };
        let name = match Named::of(m, self.utf8) {
            None => return not_mutf7(tag),
            // the service's own folders are always subscribed
            Some(Named::Inbox | Named::Sent | Named::Trash) => {
                return done(
                    tag,
                    if on {
                        "SUBSCRIBE completed"
                    } else {
                        "UNSUBSCRIBE completed"
                    },
                )
            }
            Some(Named::User(n)) => n,
        };
        match self.ctx.store.set_subscribed(user, &name, on).await {
            Ok(()) => done(
                tag,
                if on {
                    "SUBSCRIBE completed"
                } else {
                    "UNSUBSCRIBE completed"
                },
            ),
            Err(_) => Outcome::one(unavailable(tag)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{matches, wildcard};

    #[test]
    fn list_wildcards() {
        assert!(wildcard("*", "Sent"));
        assert!(wildcard("%", "INBOX"));
        assert!(wildcard("S*", "Sent"));
        assert!(wildcard("Se%t", "Sent"));
        assert!(!wildcard("Trash", "Sent"));
        assert!(!wildcard("", "INBOX"));
        assert!(wildcard("*", "a/b/c"));
        assert!(!wildcard("%", "a/b"));
        assert!(wildcard("a/%", "a/b"));
        assert!(!wildcard("a/%", "a/b/c"));
        assert!(wildcard("%/%/c", "a/b/c"));
        assert!(matches("inbox", "INBOX"));
        assert!(matches("InBoX*", "INBOX"));
        assert!(!matches("inbox", "Sent"));
    }
}
