//! One file per page.

pub mod admin;
pub mod compose;
pub mod directory;
pub mod drafts;
pub mod folders;
pub mod login;
pub mod mailbox;
pub mod message;
pub mod not_found;
pub mod notify;
pub mod outbound;
pub mod security;
pub mod set_password;
pub mod settings;
pub mod status;
pub mod tracking;
pub mod webhook;
