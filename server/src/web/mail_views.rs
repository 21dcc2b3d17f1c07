//! The webmail's mail views for the backend port: who is logged in and
//! their folders' counts, a folder's page, a search's page, and one
//! message read (sanitized, marked seen). Each takes the session's user
//! and only ever reads that user's mailbox rows.

use app::backend::{
    BackendError, FolderCounts, FolderInfo, FolderUse, MailPage, MailSummary, MailView,
    SearchParams, SessionUser, Viewer,
};

use super::backend::unavailable;
use super::render;
use crate::store::folders::SpecialUse;
use crate::store::mailbox::{EntryRow, Folder, SearchQuery};
use crate::store::{Store, UserId};

/// Messages per page of a list.
pub const PAGE_SIZE: u32 = 50;

fn summary(e: &EntryRow) -> MailSummary {
    MailSummary {
        id: e.id,
        from: e.from.clone(),
        to: e.to.clone(),
        subject: e.subject.clone(),
        received_at: e.received_at,
        size: e.size,
        attachments: e.attachments,
        seen: e.seen,
        during_outage: e.during_outage,
    }
}

/// A list cursor "a.b" (two integers).
fn parse_cursor(c: Option<String>) -> Result<Option<(i64, i64)>, BackendError> {
    let Some(c) = c.filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let bad = || BackendError::Invalid("this page link is not valid".into());
    let (a, b) = c.split_once('.').ok_or_else(bad)?;
    Ok(Some((
        a.parse().map_err(|_| bad())?,
        b.parse().map_err(|_| bad())?,
    )))
}

fn page(rows: Vec<EntryRow>, cursor: impl Fn(&EntryRow) -> (i64, i64)) -> MailPage {
    let next = (rows.len() >= PAGE_SIZE as usize)
        .then(|| {
            rows.last().map(|r| {
                let (a, b) = cursor(r);
                format!("{a}.{b}")
            })
        })
        .flatten();
    MailPage {
        items: rows.iter().map(summary).collect(),
        next,
    }
}

/// "YYYY-MM-DD" to Unix ms at 00:00 UTC of that day.
pub fn parse_day(s: &str) -> Result<Option<i64>, BackendError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let bad = || BackendError::Invalid(format!("{s:?} is not a date (YYYY-MM-DD)"));
    let mut it = s.split('-');
    let (Some(y), Some(m), Some(d), None) = (it.next(), it.next(), it.next(), it.next()) else {
        return Err(bad());
    };
    let y: i32 = y.parse().map_err(|_| bad())?;
    let m: u8 = m.parse().map_err(|_| bad())?;
    let d: u8 = d.parse().map_err(|_| bad())?;
    let month = time::Month::try_from(m).map_err(|_| bad())?;
    let date = time::Date::from_calendar_date(y, month, d).map_err(|_| bad())?;
    Ok(Some(date.midnight().assume_utc().unix_timestamp() * 1000))
}

fn search_query(p: &SearchParams) -> Result<SearchQuery, BackendError> {
    let until = parse_day(&p.until)?.map(|t| t + 86_400_000);
    Ok(SearchQuery {
        text: p.q.chars().take(500).collect(),
        from: p.from.chars().take(300).collect(),
        to: p.to.chars().take(300).collect(),
        subject: p.subject.chars().take(300).collect(),
        since: parse_day(&p.since)?,
        until,
        has_attachment: p.attachment,
        folder: Folder::parse(&p.folder),
    })
}

pub async fn viewer(store: &Store, session: &SessionUser) -> Result<Viewer, BackendError> {
    let user = UserId(session.user);
    let account = store
        .account(user)
        .await
        .map_err(unavailable)?
        .ok_or(BackendError::Unauthorized)?;
    if account.disabled {
        return Err(BackendError::Unauthorized);
    }
    let c = store.folder_counts(user).await.map_err(unavailable)?;
    let drafts = store.draft_count(user).await.map_err(unavailable)?;
    let folders = store
        .user_folders_counted(user)
        .await
        .map_err(unavailable)?
        .into_iter()
        .filter_map(|(f, total, unseen)| {
            let special = match f.special {
                // the Drafts folder's messages are the Drafts page's
                Some(SpecialUse::Drafts) => return None,
                Some(SpecialUse::Junk) => Some(FolderUse::Junk),
                Some(SpecialUse::Archive) => Some(FolderUse::Archive),
                None => None,
            };
            Some(FolderInfo {
                id: f.id.0,
                name: f.name,
                special,
                total,
                unseen,
            })
        })
        .collect();
    Ok(Viewer {
        continuity_active: account.covered
            && matches!(account.domain_state.as_str(), "outage" | "drill"),
        address: account.address,
        display_name: account.display_name,
        domain: account.domain_name,
        source: account.source,
        csrf: crate::auth::token::mask_csrf(&session.csrf),
        // users continuity does not cover see no banner: their mail waits
        domain_state: if account.covered {
            account.domain_state
        } else {
            "normal".into()
        },
        counts: FolderCounts {
            inbox: c.inbox,
            inbox_unseen: c.inbox_unseen,
            sent: c.sent,
            trash: c.trash,
            drafts,
            folders,
        },
    })
}

pub async fn list(
    store: &Store,
    session: &SessionUser,
    folder: &str,
    cursor: Option<String>,
) -> Result<MailPage, BackendError> {
    let folder = Folder::parse(folder).ok_or(BackendError::NotFound)?;
    if let Folder::User(id) = folder {
        store
            .user_folder(UserId(session.user), id)
            .await
            .map_err(unavailable)?
            .ok_or(BackendError::NotFound)?;
    }
    let rows = store
        .mailbox_page(
            UserId(session.user),
            folder,
            parse_cursor(cursor)?,
            PAGE_SIZE,
        )
        .await
        .map_err(unavailable)?;
    Ok(page(rows, EntryRow::list_cursor))
}

pub async fn search(
    store: &Store,
    session: &SessionUser,
    params: &SearchParams,
    cursor: Option<String>,
) -> Result<MailPage, BackendError> {
    let q = search_query(params)?;
    let words = !q.terms().is_empty();
    let rows = store
        .search(UserId(session.user), &q, parse_cursor(cursor)?, PAGE_SIZE)
        .await
        .map_err(unavailable)?;
    Ok(if words {
        page(rows, EntryRow::search_cursor)
    } else {
        page(rows, EntryRow::list_cursor)
    })
}

pub async fn view(store: &Store, session: &SessionUser, id: i64) -> Result<MailView, BackendError> {
    let user = UserId(session.user);
    let entry = store
        .mailbox_entry(user, id)
        .await
        .map_err(unavailable)?
        .ok_or(BackendError::NotFound)?;
    let raw = store
        .entry_raw(user, id)
        .await
        .map_err(unavailable)?
        .ok_or(BackendError::NotFound)?;
    let cid_base = format!("/mail/m/{id}/cid/");
    let (r, blocked) = tokio::task::spawn_blocking(move || {
        let r = render::render(&raw);
        let blocked = r
            .html
            .as_deref()
            .map(|h| super::sanitize::sanitize(h, &cid_base, false).remote_blocked)
            .unwrap_or(0);
        (r, blocked)
    })
    .await
    .map_err(|_| BackendError::Unavailable)?;
    if !entry.seen {
        store.set_seen(user, id, true).await.map_err(unavailable)?;
    }
    Ok(MailView {
        id,
        folder: entry.folder.key().into_owned(),
        from: r.from,
        to: r.to,
        cc: r.cc,
        reply_to: r.reply_to,
        subject: r.subject,
        date: r.date,
        received_at: entry.received_at,
        during_outage: entry.during_outage,
        seen: true,
        text: r.text,
        has_html: r.html.is_some(),
        remote_blocked: blocked,
        attachments: r.attachments,
        size: entry.size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_cursors_parse_strictly() {
        assert_eq!(
            parse_day("2026-11-28").ok().flatten(),
            Some(1_795_824_000_000)
        );
        assert_eq!(parse_day(" ").ok().flatten(), None);
        for bad in ["2026-13-01", "2026-02-30", "28/11/2026", "2026-11", "x"] {
            assert!(parse_day(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_cursor(Some("5.7".into())).ok().flatten(),
            Some((5, 7))
        );
        assert!(parse_cursor(Some("5".into())).is_err());
        assert!(parse_cursor(Some("a.b".into())).is_err());
    }
}
