//! Integration tests of the server, one binary: each file a suite that drives
//! the service through its public API, listeners and web routes.

mod admin_api;
mod archive_io;
mod common;
mod compose;
mod compose_files;
mod continuity_scope;
mod control_panel;
mod delivery_client;
mod directory_web;
mod drafts_mirror;
mod drafts_web;
mod folders_web;
mod french_walk;
mod health;
mod listener_limits;
mod login_throttle;
mod mail_spine;
mod mailbox_search;
mod monitor;
mod outbound;
mod outbound_web;
mod queue_slots;
mod recovery;
mod report_web;
mod retention;
mod second_factor;
mod shared_store;
mod store_copy;
mod submission;
mod tracking;
mod tracking_web;
mod trash_web;
mod webhook_web;
mod webmail;
mod webmail_sessions;
