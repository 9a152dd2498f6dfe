//! Mail as an outside service: building messages from rendered parts (`message`), sending exact
//! bytes through one seam (`transport`), and the IMAP mailbox (`imap`: fetch, flag, move).
//! What replies mean and what to send when is decided above, in `inbox` and `outbox`.

pub mod imap;
pub mod message;
pub mod transport;

pub use transport::{SendError, Transport};
