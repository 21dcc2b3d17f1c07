//! Pieces shared by the pages: the logged-in frame ([`shell::MailShell`]),
//! the language switch, error boxes.

pub mod shell;
