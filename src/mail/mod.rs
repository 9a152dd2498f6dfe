//! Mail: building messages and sending them (lettre).

pub mod commands;
pub mod imap;
pub mod inbound;
pub mod outbound;
pub mod reply;
pub mod templates;

pub use outbound::{build_digest_message, Mailer, SendError};
