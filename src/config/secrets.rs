//! Secrets: the model's key and the mail passwords, from a file (systemd credentials) or the
//! environment, never from `paperboy.toml` itself; and the passwords that would cross the
//! network in clear.

use std::path::{Path, PathBuf};

use secrecy::SecretString;

use super::{Config, Security, Transport};

impl Config {
    /// The model API key, from `llm.api_key_file` or the environment variable named by
    /// `llm.api_key_env`; `None` when neither has one.
    pub fn llm_api_key(&self) -> Option<SecretString> {
        self.model_key().ok().flatten()
    }

    /// The model's key as the configuration asks for it: `Ok(None)` when no `[llm]` section
    /// asks for a model (the keyword scorer runs), an error a person can act on when `[llm]`
    /// is there and its key is not.
    pub fn model_key(&self) -> Result<Option<SecretString>, String> {
        let key = self
            .secret(&self.llm.api_key_env, self.llm.api_key_file.as_deref())
            .map_err(|e| match self.llm.api_key_file {
                Some(_) => format!("[llm] api_key_file: {e}"),
                None => format!("[llm] api_key_env: {e}"),
            })?;
        match key {
            Some(k) => Ok(Some(k)),
            None if !self.llm_configured => Ok(None),
            None => Err(format!(
                "[llm] asks for {} at {}, but its key is not there: ${} is unset or empty in paperboy's environment{}. Set it (for systemd, in the unit's EnvironmentFile; for admin commands, `--env-file`), or name a file with `api_key_file`; remove the [llm] section to score by keywords instead",
                self.llm.model,
                self.llm.base_url,
                self.llm.api_key_env,
                match self.similar_env(&self.llm.api_key_env) {
                    Some(near) => format!(" (${near} is set: a misspelling?)"),
                    None => String::new(),
                }
            )),
        }
    }

    /// The embedding endpoint's key, from `embeddings.api_key_file` or `embeddings.api_key_env`
    /// (none: sent without one).
    pub fn embeddings_api_key(&self) -> Option<SecretString> {
        self.secret(
            &self.embeddings.api_key_env,
            self.embeddings.api_key_file.as_deref(),
        )
        .ok()
        .flatten()
    }

    /// The secret files the configuration names for the services it uses (the mail server's
    /// password, the inbox's, the embedding endpoint's key) that cannot be read or are empty,
    /// each said with its key. Read as "no password" they would fail later, as a refused login.
    pub fn unreadable_secrets(&self) -> Vec<String> {
        let smtp = &self.mail.smtp;
        let mut named: Vec<(&str, &str, Option<&Path>)> = Vec::new();
        if self.mail.transport == Transport::Smtp {
            named.push((
                "[mail.smtp] password_file",
                &smtp.password_env,
                smtp.password_file.as_deref(),
            ));
        }
        if let Some(imap) = &self.imap {
            named.push((
                "[imap] password_file",
                &imap.password_env,
                imap.password_file.as_deref(),
            ));
        }
        if self.embeddings.enabled() {
            named.push((
                "[embeddings] api_key_file",
                &self.embeddings.api_key_env,
                self.embeddings.api_key_file.as_deref(),
            ));
        }
        named
            .into_iter()
            .filter_map(|(key, env, file)| {
                let key = if file.is_some() {
                    key
                } else {
                    key.split(' ').next().unwrap_or(key)
                };
                self.secret(env, file).err().map(|e| format!("{key}: {e}"))
            })
            .collect()
    }

    /// The secret files named (the model's key included) that every user of this machine can
    /// read, each with its key and the fix. Not an error: a warning at start and in `check`.
    pub fn loose_secret_files(&self) -> Vec<String> {
        use std::os::unix::fs::PermissionsExt as _;
        let imap = self.imap.as_ref();
        [
            ("[llm] api_key_file", self.llm.api_key_file.as_deref()),
            ("[mail.smtp] password_file", self.mail.smtp.password_file.as_deref()),
            ("[imap] password_file", imap.and_then(|i| i.password_file.as_deref())),
            ("[embeddings] api_key_file", self.embeddings.api_key_file.as_deref()),
        ]
        .into_iter()
        .filter_map(|(key, file)| {
            let path = self.secret_path(file?);
            let mode = std::fs::metadata(&path).ok()?.permissions().mode();
            (mode & 0o007 != 0).then(|| {
                format!(
                    "{key} {} can be read by every user of this machine (mode {:o}); chmod o-rwx it",
                    path.display(),
                    mode & 0o777
                )
            })
        })
        .collect()
    }

    /// Where a secret file named `file` is: under `$CREDENTIALS_DIRECTORY` when relative and
    /// systemd gave one, else relative to this file's folder.
    fn secret_path(&self, file: &Path) -> PathBuf {
        match std::env::var_os("CREDENTIALS_DIRECTORY") {
            Some(dir) if file.is_relative() => PathBuf::from(dir).join(file),
            _ => self.resolve(file),
        }
    }

    /// A secret from `file` when given (relative to `$CREDENTIALS_DIRECTORY`, where systemd puts
    /// credentials, or else to this file's folder), else from the variable `env`.
    fn secret(&self, env: &str, file: Option<&Path>) -> Result<Option<SecretString>, String> {
        let Some(file) = file else {
            return match std::env::var(env) {
                Ok(v) if !v.trim().is_empty() => {
                    one_line(v.trim()).map_err(|e| format!("${env} {e}"))?;
                    Ok(secret_from_env(env))
                }
                _ => Ok(None),
            };
        };
        let path = self.secret_path(file);
        match std::fs::read_to_string(&path) {
            Ok(s) if !s.trim().is_empty() => {
                one_line(s.trim())
                    .map_err(|e| format!("the secret file {} {e}", path.display()))?;
                crate::support::redact::register(s.trim());
                Ok(Some(SecretString::from(s.trim().to_string())))
            }
            Ok(_) => Err(format!("the secret file {} is empty", path.display())),
            Err(e) => Err(format!(
                "cannot read the secret file {}: {e}",
                path.display()
            )),
        }
    }

    /// A set environment variable whose name is close to `name` (a likely misspelling).
    fn similar_env(&self, name: &str) -> Option<String> {
        std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v)))
            .filter(|(k, v)| k != name && !v.is_empty())
            .map(|(k, _)| (strsim::jaro_winkler(&k, name), k))
            .filter(|(score, _)| *score > 0.9)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, k)| k)
    }

    pub fn imap_password(&self) -> Option<SecretString> {
        self.imap.as_ref().and_then(|i| {
            self.secret(&i.password_env, i.password_file.as_deref())
                .ok()
                .flatten()
        })
    }

    pub fn smtp_password(&self) -> Option<SecretString> {
        let smtp = &self.mail.smtp;
        self.secret(&smtp.password_env, smtp.password_file.as_deref())
            .ok()
            .flatten()
    }

    /// Passwords that would cross the network unencrypted (`security = "none"` to a host other
    /// than this machine), each said as a sentence with its fix.
    pub fn cleartext_passwords(&self) -> Vec<String> {
        let local = |host: &str| matches!(host, "localhost" | "127.0.0.1" | "::1");
        let mut out = Vec::new();
        let smtp = &self.mail.smtp;
        if self.mail.transport == Transport::Smtp
            && smtp.security == Security::None
            && self.smtp_password().is_some()
            && !local(&smtp.host)
        {
            out.push(format!(
                "the SMTP password would cross the network unencrypted to {}:{}; set [mail.smtp] security = \"starttls\" or \"tls\"",
                smtp.host, smtp.port
            ));
        }
        if let Some(imap) = &self.imap {
            if imap.security == Security::None && !local(&imap.host) {
                out.push(format!(
                    "the IMAP password would cross the network unencrypted to {}:{}; set [imap] security = \"tls\" or \"starttls\"",
                    imap.host, imap.port
                ));
            }
        }
        out
    }
}

/// A secret is one line of printable characters: a line break or a control character inside
/// it (a key file written with two lines, a pasted `\r`) would be sent as a broken header.
fn one_line(secret: &str) -> Result<(), String> {
    match secret.chars().position(char::is_control) {
        Some(at) => Err(format!(
            "holds a line break or control character (character {} of {}): a key or password is one line; rewrite it without it",
            at + 1,
            secret.chars().count()
        )),
        None => Ok(()),
    }
}

/// The variable `name`'s value, trimmed; `None` when it is unset or blank.
fn secret_from_env(name: &str) -> Option<SecretString> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => {
            crate::support::redact::register(v.trim());
            Some(SecretString::from(v.trim().to_string()))
        }
        _ => None,
    }
}
