//! The Continuity server: everything with I/O.
//!
//! Code map (see ARCHITECTURE.md for the whole picture):
//! - [`compose`]: checking and building what the webmail sends.
//! - [`config`]: TOML + `CONTINUITY_*` environment, validated.
//! - [`store`]: SQLite (the only SQL), group-committed writes.
//! - [`directory`]: the in-memory recipient directory RCPT TO checks.
//! - [`dirsync`]: users from LDAP / Active Directory (or a CSV file).
//! - [`smtp`]: the inbound listener and its sans-IO session.
//! - [`imap`]: IMAP access to the continuity mailbox (imap-next).
//! - [`queue`]: delivery to the primaries (a pipelining SMTP client), retries, DSNs.
//! - [`relay`]: what users and primaries send through us (local or
//!   outbound, DKIM, Sent).
//! - [`web`]: actix-web + Leptos wiring and the UI's backend port.
//! - [`tls`]: certificates for the listeners; [`per_ip`]: connections per
//!   client address, for every listener.
//! - [`archive`]: the daily retention purge.
//! - [`notify`]: users told when their domain's continuity starts and
//!   ends (an alternate address, SMS); [`http_post`]: one HTTP POST.
//! - [`service`]: starting and stopping it all together; [`demo`]: demo data.

// Leptos view types nest deeply when components are not type-erased.
#![recursion_limit = "256"]

pub mod archive;
pub mod auth;
pub mod backup;
pub mod cluster;
pub mod compose;
#[cfg(test)]
mod compose_tests;
pub mod config;
pub mod demo;
pub mod directory;
pub mod dirsync;
pub mod health;
pub mod http_post;
pub mod imap;
pub mod memory;
pub mod metrics;
pub mod monitor;
pub mod notify;
pub mod per_ip;
pub mod queue;
pub mod quickack;
pub mod relay;
pub mod service;
pub mod smtp;
pub mod store;
pub mod systemd;
pub mod tls;
pub mod web;
