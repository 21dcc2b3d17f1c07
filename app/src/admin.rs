//! The Control Panel's server functions: the administrator, a domain's
//! Continuity Service settings, and user suggestions while typing. Changes
//! are plain form posts (see the server's `web::admin_forms`).

use leptos::prelude::*;

use crate::backend::{
    AdminViewer, BackendError, ContinuityView, DirectoryView, MessageTrack, OutboundView,
    Suggestion, TrackingPage, TrackingQuery,
};

/// The logged-in administrator, or `None`.
#[server]
pub async fn get_admin() -> Result<Option<AdminViewer>, BackendError> {
    let backend =
        use_context::<crate::backend::SharedBackend>().ok_or(BackendError::Unavailable)?;
    let Ok(session) = crate::backend::admin_session() else {
        return Ok(None);
    };
    match backend.admin_viewer(&session).await {
        Ok(v) => Ok(Some(v)),
        Err(BackendError::Unauthorized) => Ok(None),
        Err(e) => Err(e),
    }
}

#[server]
pub async fn get_continuity(
    domain: String,
    reveal: String,
) -> Result<ContinuityView, BackendError> {
    let backend =
        use_context::<crate::backend::SharedBackend>().ok_or(BackendError::Unavailable)?;
    let session = crate::backend::admin_session()?;
    backend.continuity_view(&session, &domain, &reveal).await
}

#[server]
pub async fn suggest(domain: String, fragment: String) -> Result<Vec<Suggestion>, BackendError> {
    let backend =
        use_context::<crate::backend::SharedBackend>().ok_or(BackendError::Unavailable)?;
    let session = crate::backend::admin_session()?;
    backend.suggest_users(&session, &domain, &fragment).await
}

#[server]
pub async fn get_tracking(q: TrackingQuery) -> Result<TrackingPage, BackendError> {
    let backend =
        use_context::<crate::backend::SharedBackend>().ok_or(BackendError::Unavailable)?;
    let session = crate::backend::admin_session()?;
    backend.admin_tracking(&session, &q).await
}

#[server]
pub async fn get_message_track(id: i64) -> Result<MessageTrack, BackendError> {
    let backend =
        use_context::<crate::backend::SharedBackend>().ok_or(BackendError::Unavailable)?;
    let session = crate::backend::admin_session()?;
    backend.admin_message_track(&session, id).await
}

#[server]
pub async fn get_directory(domain: String) -> Result<DirectoryView, BackendError> {
    let backend =
        use_context::<crate::backend::SharedBackend>().ok_or(BackendError::Unavailable)?;
    let session = crate::backend::admin_session()?;
    backend.directory_view(&session, &domain).await
}

#[server]
pub async fn get_outbound(domain: String, reveal: String) -> Result<OutboundView, BackendError> {
    let backend =
        use_context::<crate::backend::SharedBackend>().ok_or(BackendError::Unavailable)?;
    let session = crate::backend::admin_session()?;
    backend.outbound_view(&session, &domain, &reveal).await
}

/// The administrator's own second factor (`reveal`: recovery codes just
/// made, shown once).
#[server]
pub async fn get_admin_security(
    reveal: String,
) -> Result<crate::backend::SecurityView, BackendError> {
    let backend =
        use_context::<crate::backend::SharedBackend>().ok_or(BackendError::Unavailable)?;
    let session = crate::backend::admin_session()?;
    backend
        .security(&crate::backend::SecurityOf::Admin(session), &reveal)
        .await
}
