//! One page per file: its server functions and components, top to bottom.

pub mod not_found;
pub mod status;
