//! Pieces shared by the pages: the logged-in frame ([`shell::MailShell`]),
//! the language switch, error boxes, the webmail's keyboard shortcuts.

pub mod shell;
pub mod shortcuts;
