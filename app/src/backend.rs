//! The backend port: what the UI needs from the server, as data types shared
//! by both builds and (server build only) the trait the server implements.
//!
//! Server functions reach the implementation with
//! `use_context::<SharedBackend>()`; the server provides it to every request.

use serde::{Deserialize, Serialize};

/// Deliveries of one route counted by status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueCounts {
    pub queued: i64,
    pub delayed: i64,
    pub delivering: i64,
    pub delivered: i64,
    pub bounced: i64,
    pub expired: i64,
}

/// A protected domain, its primary and its queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainOverview {
    pub name: String,
    /// "host:port (tls mode)"
    pub primary: String,
    pub users: i64,
    pub queue: QueueCounts,
}

/// The status page's data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overview {
    pub hostname: String,
    pub messages: i64,
    pub domains: Vec<DomainOverview>,
    /// Mail to domains we do not protect (bounces to remote senders).
    pub outbound: QueueCounts,
}

/// An error the UI may show: its text is meant for people, never internals.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum BackendError {
    #[error("the service is temporarily unavailable; try again in a moment")]
    Unavailable,
    #[error("{0}")]
    Invalid(String),
}

#[cfg(feature = "ssr")]
mod port {
    use super::*;
    use std::sync::Arc;

    /// What the server implements for the UI.
    #[async_trait::async_trait]
    pub trait Backend: Send + Sync + 'static {
        async fn overview(&self) -> Result<Overview, BackendError>;
    }

    /// The form in which the server provides the backend as context.
    pub type SharedBackend = Arc<dyn Backend>;
}

#[cfg(feature = "ssr")]
pub use port::{Backend, SharedBackend};

/// The backend from context, inside a server function.
#[cfg(feature = "ssr")]
pub fn backend() -> Result<SharedBackend, leptos::prelude::ServerFnError> {
    leptos::prelude::use_context::<SharedBackend>()
        .ok_or_else(|| leptos::prelude::ServerFnError::new(BackendError::Unavailable.to_string()))
}
