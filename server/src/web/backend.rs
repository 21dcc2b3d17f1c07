//! [`StoreBackend`]: the server's implementation of the UI's backend port,
//! calling down to the module that owns each view (the mailbox's in
//! [`super::mail_views`]). Every mail method takes the session's user and
//! only ever reads that user's rows.

use std::sync::Arc;

use app::backend::{
    AdminSession, AdminViewer, Backend, BackendError, ComposeView, ContinuityView, DirectoryView,
    DomainOverview, DraftSummary, LinkProblem, MailPage, MailView, MessageTrack, OutageReport,
    OutboundView, Overview, ReportLine, SearchParams, SessionUser, Suggestion, TrackingPage,
    TrackingQuery, Viewer,
};

use crate::auth::{Auth, PasswordError};
use crate::store::{DomainId, Store, UserId};

/// The server's implementation of [`Backend`].
pub struct StoreBackend {
    pub store: Store,
    pub auth: Arc<Auth>,
    pub hostname: String,
    pub outbound: super::OutboundFacts,
    /// An SMS gateway is configured (users can give a mobile).
    pub sms: bool,
}

pub(crate) fn unavailable(e: crate::store::StoreError) -> BackendError {
    tracing::error!(error = %e, "backend query failed");
    BackendError::Unavailable
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
        super::mail_views::viewer(&self.store, session).await
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
        super::mail_views::list(&self.store, session, folder, cursor).await
    }

    async fn mail_search(
        &self,
        session: &SessionUser,
        params: &SearchParams,
        cursor: Option<String>,
    ) -> Result<MailPage, BackendError> {
        super::mail_views::search(&self.store, session, params, cursor).await
    }

    async fn mail_view(&self, session: &SessionUser, id: i64) -> Result<MailView, BackendError> {
        super::mail_views::view(&self.store, session, id).await
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
            passkeys_here: self.auth.passkeys_here(),
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
