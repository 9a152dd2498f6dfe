//! `[imap]`: where replies are read, and how far a reply's sender is trusted.

use std::path::PathBuf;

use serde::Deserialize;

use super::Security;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImapConfig {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: String,
    pub password_env: String,
    /// A file holding the password instead (see `llm.api_key_file`).
    pub password_file: Option<PathBuf>,
    pub mailbox: String,
    pub poll_seconds: u64,
    /// Where handled messages go (`/` is replaced by the server's hierarchy delimiter).
    pub processed_folder: String,
    pub rejected_folder: String,
    pub timeout_secs: u64,
    /// Extra trusted root certificates (PEM), for a server with an internal CA.
    pub ca_file: Option<PathBuf>,
    /// Free-text replies the model reads per reader and day; past it, a polite answer.
    pub model_replies_per_day: u32,
    /// The receiving mail server's authserv-id (the first word of the `Authentication-Results`
    /// headers it writes). Set, a reply changes a reader only when that server found DMARC or
    /// aligned DKIM passing for its From domain; unset, the From address alone is trusted.
    pub authserv_id: Option<String>,
}

impl Default for ImapConfig {
    fn default() -> Self {
        ImapConfig {
            host: "localhost".into(),
            port: 993,
            security: Security::Tls,
            username: String::new(),
            password_env: "PAPERBOY_IMAP_PASSWORD".into(),
            password_file: None,
            mailbox: "INBOX".into(),
            poll_seconds: 60,
            processed_folder: "paperboy/processed".into(),
            rejected_folder: "paperboy/rejected".into(),
            timeout_secs: 30,
            ca_file: None,
            model_replies_per_day: 10,
            authserv_id: None,
        }
    }
}
