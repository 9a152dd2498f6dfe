//! Mail as an outside service: building messages from rendered parts (`message`), sending exact
//! bytes through one seam (`transport`), and the IMAP mailbox (`imap`: fetch, flag, move).
//! What replies mean and what to send when is decided above, in `inbox` and `outbox`.

pub mod imap;
pub mod message;
pub mod transport;

pub use transport::{SendError, Transport};

/// When `error` is what TLS says on meeting a server that speaks plain text (the handshake reads
/// "220 …" or "* OK …" as a record), the sentence that tells the admin so; `None` otherwise.
/// Both renderings of the error are read: the TLS layer's kind is often only in its `Debug`.
pub fn tls_on_plaintext(
    e: &(impl std::fmt::Debug + std::fmt::Display),
    server: &str,
    section: &str,
) -> Option<String> {
    let error = format!("{e:?} {e}");
    let plain = [
        "InvalidContentType",
        "corrupt message",
        "InvalidMessage",
        "wrong version number",
    ];
    plain.iter().any(|p| error.contains(p)).then(|| {
        format!(
            "{server} answered in plain text where TLS was expected: that port takes STARTTLS or no encryption, not TLS from the first byte. Set [{section}] security = \"starttls\" (ports 587 and 143), or use the TLS port (465 for SMTP, 993 for IMAP)"
        )
    })
}
