//! Mail: building messages and sending them (lettre).

pub mod outbound;

pub use outbound::{build_digest_message, Mailer, SendError};
