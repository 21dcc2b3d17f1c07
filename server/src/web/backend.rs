//! [`StoreBackend`]: the server's implementation of the UI's backend port.
//! Every mail method takes the session's user and only ever reads that
//! user's mailbox rows.

use std::sync::Arc;

use app::backend::{
    AdminSession, AdminViewer, Backend, BackendError, ComposeView, ContinuityView, DirectoryView,
    DomainOverview, DraftSummary, FolderCounts, FolderInfo, FolderUse, LinkProblem, MailPage,
    MailSummary, MailView, MessageTrack, OutageReport, OutboundView, Overview, ReportLine,
    SearchParams, SessionUser, Suggestion, TrackingPage, TrackingQuery, Viewer,
};

use crate::auth::{Auth, PasswordError};
use crate::store::folders::SpecialUse;
use crate::store::mailbox::{EntryRow, Folder, SearchQuery};
use crate::store::{DomainId, Store, UserId};

use super::render;

/// The server's implementation of [`Backend`].
pub struct StoreBackend {
    pub store: Store,
    pub auth: Arc<Auth>,
    pub hostname: String,
    pub outbound: super::OutboundFacts,
    /// An SMS gateway is configured (users can give a mobile).
    pub sms: bool,
}

/// Messages per page of a list.
pub const PAGE_SIZE: u32 = 50;

pub(crate) fn unavailable(e: crate::store::StoreError) -> BackendError {
    tracing::error!(error = %e, "backend query failed");
    BackendError::Unavailable
}

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

/// The administrator behind a session and a domain they may manage. A
/// domain they may not manage is "not found", like one that does not exist.
pub async fn admin_domain(
    store: &Store,
    session: &AdminSession,
    domain: &str,
) -> Result<(crate::store::admins::AdminRow, crate::store::DomainId), BackendError> {
    let admin = store
        .admin(session.admin)
        .await
        .map_err(unavailable)?
        .filter(|a| !a.disabled)
        .ok_or(BackendError::Unauthorized)?;
    let domains = store.admin_domains(&admin).await.map_err(unavailable)?;
    let id = domains
        .iter()
        .find(|(_, n)| n.eq_ignore_ascii_case(domain.trim()))
        .map(|(id, _)| *id)
        .ok_or(BackendError::NotFound)?;
    Ok((admin, id))
}

/// The administrator may manage `domain`: its id and its name as stored
/// (`NotFound` otherwise, like a domain that does not exist).
pub(crate) async fn admin_domain_name(
    store: &Store,
    session: &AdminSession,
    domain: &str,
) -> Result<(crate::store::DomainId, String), BackendError> {
    let (_, id) = admin_domain(store, session, domain).await?;
    let name = store
        .domain(id)
        .await
        .map_err(unavailable)?
        .map(|d| d.name)
        .ok_or(BackendError::NotFound)?;
    Ok((id, name))
}

impl StoreBackend {
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
}

#[async_trait::async_trait]
impl Backend for StoreBackend {
    async fn overview(&self) -> Result<Overview, BackendError> {
        let domains = self.store.domains().await.map_err(unavailable)?;
        let queue = self.store.queue_counts().await.map_err(unavailable)?;
        let find = |d: Option<crate::store::DomainId>| {
            queue
                .iter()
                .find(|(k, _)| *k == d)
                .map(|(_, c)| c.clone())
                .unwrap_or_default()
        };
        let mut out = Vec::with_capacity(domains.len());
        for d in domains {
            let users = self.store.users(d.id).await.map_err(unavailable)?.len() as i64;
            out.push(DomainOverview {
                primary: format!(
                    "{}:{} ({})",
                    d.primary_host,
                    d.primary_port,
                    d.primary_tls.as_str()
                ),
                name: d.name,
                users,
                queue: find(Some(d.id)),
            });
        }
        Ok(Overview {
            hostname: self.hostname.clone(),
            messages: self.store.message_count().await.map_err(unavailable)?,
            domains: out,
            outbound: find(None),
        })
    }

    async fn viewer(&self, session: &SessionUser) -> Result<Viewer, BackendError> {
        let user = UserId(session.user);
        let account = self
            .store
            .account(user)
            .await
            .map_err(unavailable)?
            .ok_or(BackendError::Unauthorized)?;
        if account.disabled {
            return Err(BackendError::Unauthorized);
        }
        let c = self.store.folder_counts(user).await.map_err(unavailable)?;
        let drafts = self.store.draft_count(user).await.map_err(unavailable)?;
        let folders = self
            .store
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

    async fn draft_list(&self, session: &SessionUser) -> Result<Vec<DraftSummary>, BackendError> {
        let user = UserId(session.user);
        // drafts saved before they were shown to mail apps: shown now
        for draft in self
            .store
            .unmirrored_drafts(user)
            .await
            .map_err(unavailable)?
        {
            if let Err(e) =
                super::compose_web::mirror(&self.store, &self.hostname, user, draft).await
            {
                tracing::warn!(error = %e, user = %user, draft, "cannot show a draft in the Drafts folder");
                break;
            }
        }
        Ok(self
            .store
            .drafts(user, 500)
            .await
            .map_err(unavailable)?
            .into_iter()
            .map(|d| DraftSummary {
                id: d.id,
                to: d.to,
                subject: d.subject,
                preview: d.preview,
                updated_at: d.updated_at,
                files: d.files,
            })
            .collect())
    }

    async fn mail_list(
        &self,
        session: &SessionUser,
        folder: &str,
        cursor: Option<String>,
    ) -> Result<MailPage, BackendError> {
        let folder = Folder::parse(folder).ok_or(BackendError::NotFound)?;
        if let Folder::User(id) = folder {
            self.store
                .user_folder(UserId(session.user), id)
                .await
                .map_err(unavailable)?
                .ok_or(BackendError::NotFound)?;
        }
        let rows = self
            .store
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

    async fn mail_search(
        &self,
        session: &SessionUser,
        params: &SearchParams,
        cursor: Option<String>,
    ) -> Result<MailPage, BackendError> {
        let q = Self::search_query(params)?;
        let words = !q.terms().is_empty();
        let rows = self
            .store
            .search(UserId(session.user), &q, parse_cursor(cursor)?, PAGE_SIZE)
            .await
            .map_err(unavailable)?;
        Ok(if words {
            page(rows, EntryRow::search_cursor)
        } else {
            page(rows, EntryRow::list_cursor)
        })
    }

    async fn mail_view(&self, session: &SessionUser, id: i64) -> Result<MailView, BackendError> {
        let user = UserId(session.user);
        let entry = self
            .store
            .mailbox_entry(user, id)
            .await
            .map_err(unavailable)?
            .ok_or(BackendError::NotFound)?;
        let raw = self
            .store
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
            self.store
                .set_seen(user, id, true)
                .await
                .map_err(unavailable)?;
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

    async fn my_report(&self, session: &SessionUser) -> Result<Option<OutageReport>, BackendError> {
        let user = UserId(session.user);
        let account = self
            .store
            .account(user)
            .await
            .map_err(unavailable)?
            .filter(|a| !a.disabled)
            .ok_or(BackendError::Unauthorized)?;
        report(&self.store, account.domain, Some(user)).await
    }

    async fn compose_view(
        &self,
        session: &SessionUser,
        mode: &str,
        reference: Option<i64>,
        draft: Option<i64>,
        lang: app::i18n::Lang,
    ) -> Result<ComposeView, BackendError> {
        super::compose_web::view(
            &self.store,
            UserId(session.user),
            mode,
            reference,
            draft,
            lang,
        )
        .await
    }

    async fn admin_viewer(&self, session: &AdminSession) -> Result<AdminViewer, BackendError> {
        let admin = self
            .store
            .admin(session.admin)
            .await
            .map_err(unavailable)?
            .filter(|a| !a.disabled)
            .ok_or(BackendError::Unauthorized)?;
        let domains = self
            .store
            .admin_domains(&admin)
            .await
            .map_err(unavailable)?;
        Ok(AdminViewer {
            operator: admin.is_operator(),
            address: admin.address,
            display_name: admin.display_name,
            csrf: crate::auth::token::mask_csrf(&session.csrf),
            domains: domains.into_iter().map(|(_, n)| n).collect(),
        })
    }

    async fn continuity_view(
        &self,
        session: &AdminSession,
        domain: &str,
        reveal: &str,
    ) -> Result<ContinuityView, BackendError> {
        super::admin_views::continuity_view(
            &self.store,
            &self.auth,
            self.sms,
            session,
            domain,
            reveal,
        )
        .await
    }

    async fn directory_view(
        &self,
        session: &AdminSession,
        domain: &str,
    ) -> Result<DirectoryView, BackendError> {
        super::admin_views::directory_view(&self.store, session, domain).await
    }

    async fn outbound_view(
        &self,
        session: &AdminSession,
        domain: &str,
        reveal: &str,
    ) -> Result<OutboundView, BackendError> {
        super::outbound_admin::view(
            &self.store,
            &self.auth,
            &self.outbound,
            session,
            domain,
            reveal,
        )
        .await
    }

    async fn admin_tracking(
        &self,
        session: &AdminSession,
        q: &TrackingQuery,
    ) -> Result<TrackingPage, BackendError> {
        let (scope, domains) = super::tracking::admin_scope(&self.store, session).await?;
        super::tracking::page(&self.store, &scope, &domains, q).await
    }

    async fn admin_message_track(
        &self,
        session: &AdminSession,
        id: i64,
    ) -> Result<MessageTrack, BackendError> {
        let (scope, _) = super::tracking::admin_scope(&self.store, session).await?;
        super::tracking::message_track(&self.store, &scope, id).await
    }

    async fn my_tracking(
        &self,
        session: &SessionUser,
        q: &TrackingQuery,
    ) -> Result<TrackingPage, BackendError> {
        let user = UserId(session.user);
        let account = self
            .store
            .account(user)
            .await
            .map_err(unavailable)?
            .filter(|a| !a.disabled)
            .ok_or(BackendError::Unauthorized)?;
        let mut page = super::tracking::page(
            &self.store,
            &crate::store::tracking::Scope::User(user),
            &[(account.domain, account.domain_name)],
            q,
        )
        .await?;
        page.domains.clear();
        Ok(page)
    }

    async fn security(
        &self,
        of: &app::backend::SecurityOf,
        reveal: &str,
    ) -> Result<app::backend::SecurityView, BackendError> {
        super::security_forms::view(&self.store, &self.auth, of, reveal).await
    }

    async fn enrolment(
        &self,
        challenge: &str,
    ) -> Result<Option<app::backend::TotpSetupView>, BackendError> {
        Ok(self
            .auth
            .enrolment(challenge)
            .await
            .map_err(unavailable)?
            .map(|(_, s)| app::backend::TotpSetupView {
                secret: super::security_forms::grouped_key(&s.secret),
                uri: s.uri,
            }))
    }

    async fn second_step(
        &self,
        challenge: &str,
    ) -> Result<app::backend::SecondStepView, BackendError> {
        Ok(app::backend::SecondStepView {
            passkey: self
                .auth
                .passkey_login_possible(challenge)
                .await
                .map_err(unavailable)?,
        })
    }

    async fn contacts(
        &self,
        session: &SessionUser,
    ) -> Result<app::backend::ContactsView, BackendError> {
        super::notify_forms::contacts_view(&self.store, self.sms, session).await
    }

    async fn suggest_users(
        &self,
        session: &AdminSession,
        domain: &str,
        fragment: &str,
    ) -> Result<Vec<Suggestion>, BackendError> {
        let (_, id) = admin_domain(&self.store, session, domain).await?;
        let fragment: String = fragment.chars().take(100).collect();
        Ok(self
            .store
            .suggest_users(id, &fragment, "", 10)
            .await
            .map_err(unavailable)?
            .into_iter()
            .map(|(address, display_name)| Suggestion {
                address,
                display_name,
            })
            .collect())
    }

    async fn password_link(
        &self,
        token: &str,
    ) -> Result<Result<String, LinkProblem>, BackendError> {
        match self.auth.check_link(token).await {
            Ok(account) => Ok(Ok(account.address)),
            Err(PasswordError::Link(p)) => Ok(Err(p)),
            Err(PasswordError::Unavailable) => Err(BackendError::Unavailable),
            Err(_) => Ok(Err(LinkProblem::Invalid)),
        }
    }
}

/// The last outage's reconciliation report for a domain, or one user of it.
pub(crate) async fn report(
    store: &Store,
    domain: DomainId,
    user: Option<UserId>,
) -> Result<Option<OutageReport>, BackendError> {
    let Some(e) = store.last_outage(domain).await.map_err(unavailable)? else {
        return Ok(None);
    };
    let rows = store
        .reconciliation(domain, e.start, e.end, user)
        .await
        .map_err(unavailable)?;
    Ok(Some(OutageReport {
        start: e.start,
        end: e.end,
        lines: rows
            .into_iter()
            .map(|r| ReportLine {
                address: r.address,
                held: r.held,
                delivered: r.delivered,
                pending: r.pending,
                failed: r.failed,
                sent: r.sent,
            })
            .collect(),
    }))
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
