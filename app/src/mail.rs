//! The webmail's server functions: who is logged in, folder pages, search,
//! reading a message, checking a set-password link. Each one resolves the
//! session first; the backend only ever reads that user's mail.

use leptos::prelude::*;

use crate::backend::{BackendError, LinkProblem, MailPage, MailView, SearchParams, Viewer};

/// The logged-in user, or `None` (not an error: the login page asks too).
#[server]
pub async fn get_viewer() -> Result<Option<Viewer>, BackendError> {
    let backend =
        use_context::<crate::backend::SharedBackend>().ok_or(BackendError::Unavailable)?;
    let Ok(session) = crate::backend::session_user() else {
        return Ok(None);
    };
    match backend.viewer(&session).await {
        Ok(v) => Ok(Some(v)),
        Err(BackendError::Unauthorized) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The folder counts (refreshed on every navigation: reading changes them).
#[server]
pub async fn get_counts() -> Result<crate::backend::FolderCounts, BackendError> {
    let (backend, session) = crate::backend::backend_for_user()?;
    Ok(backend.viewer(&session).await?.counts)
}

#[server]
pub async fn list_drafts() -> Result<Vec<crate::backend::DraftSummary>, BackendError> {
    let (backend, session) = crate::backend::backend_for_user()?;
    backend.draft_list(&session).await
}

#[server]
pub async fn list_mail(folder: String, cursor: Option<String>) -> Result<MailPage, BackendError> {
    let (backend, session) = crate::backend::backend_for_user()?;
    backend.mail_list(&session, &folder, cursor).await
}

#[server]
pub async fn search_mail(
    params: SearchParams,
    cursor: Option<String>,
) -> Result<MailPage, BackendError> {
    let (backend, session) = crate::backend::backend_for_user()?;
    backend.mail_search(&session, &params, cursor).await
}

#[server]
pub async fn read_mail(id: i64) -> Result<MailView, BackendError> {
    let (backend, session) = crate::backend::backend_for_user()?;
    backend.mail_view(&session, id).await
}

#[server]
pub async fn check_link(token: String) -> Result<Result<String, LinkProblem>, BackendError> {
    let backend =
        use_context::<crate::backend::SharedBackend>().ok_or(BackendError::Unavailable)?;
    backend.password_link(&token).await
}

/// The user's line of the last outage's reconciliation report.
#[server]
pub async fn my_report() -> Result<Option<crate::backend::OutageReport>, BackendError> {
    let (backend, session) = crate::backend::backend_for_user()?;
    backend.my_report(&session).await
}

/// The user's own Live Tracking.
#[server]
pub async fn my_tracking(
    q: crate::backend::TrackingQuery,
) -> Result<crate::backend::TrackingPage, BackendError> {
    let (backend, session) = crate::backend::backend_for_user()?;
    backend.my_tracking(&session, &q).await
}

/// What the compose form starts from.
#[server]
pub async fn get_compose(
    mode: String,
    reference: Option<i64>,
    draft: Option<i64>,
) -> Result<crate::backend::ComposeView, BackendError> {
    let (backend, session) = crate::backend::backend_for_user()?;
    let lang = use_context::<crate::i18n::Lang>().unwrap_or_default();
    backend
        .compose_view(&session, &mode, reference, draft, lang)
        .await
}

/// The user's second factor and app passwords (`reveal`: secrets just
/// made, shown once).
#[server]
pub async fn get_security(reveal: String) -> Result<crate::backend::SecurityView, BackendError> {
    let (backend, session) = crate::backend::backend_for_user()?;
    backend
        .security(&crate::backend::SecurityOf::User(session), &reveal)
        .await
}

/// Where the user is told when mail is down.
#[server]
pub async fn get_contacts() -> Result<crate::backend::ContactsView, BackendError> {
    let (backend, session) = crate::backend::backend_for_user()?;
    backend.contacts(&session).await
}

/// The second-factor set-up a login must do (its challenge cookie read
/// from the request).
/// What the login's second step may use (its challenge cookie read from
/// the request).
#[server]
pub async fn get_second_step() -> Result<crate::backend::SecondStepView, BackendError> {
    let backend =
        use_context::<crate::backend::SharedBackend>().ok_or(BackendError::Unavailable)?;
    let Some(req) = use_context::<leptos_actix::Request>() else {
        return Ok(Default::default());
    };
    backend.second_step(&challenge_cookie(&req)).await
}

/// The login's challenge cookie ("" without one).
#[cfg(feature = "ssr")]
fn challenge_cookie(req: &leptos_actix::Request) -> String {
    ["__Host-continuity-2fa", "continuity-2fa"]
        .iter()
        .find_map(|n| req.cookie(n))
        .map(|c| c.value().to_string())
        .unwrap_or_default()
}

#[server]
pub async fn get_enrolment() -> Result<Option<crate::backend::TotpSetupView>, BackendError> {
    let backend =
        use_context::<crate::backend::SharedBackend>().ok_or(BackendError::Unavailable)?;
    let Some(req) = use_context::<leptos_actix::Request>() else {
        return Ok(None);
    };
    backend.enrolment(&challenge_cookie(&req)).await
}
