//! Changing subscribers: the one implementation behind the admin command line and reply
//! handling. Every change is validated against the whole file before it is written, written
//! atomically, and recorded in the audit table with the entry before and after.

use std::path::PathBuf;

use super::edit::{EditError, FieldValue, SubscribersFile};
use super::{parse, SubscribersError};
use crate::config::Config;
use crate::domain::Subscriber;
use crate::domain::SubscriberEmail;
use crate::store::audit::Actor;
use crate::store::Store;

#[derive(Debug, Clone)]
pub enum Change {
    Add(Vec<(&'static str, FieldValue)>),
    /// A reader who subscribed themself by mail (double opt-in), audited as such.
    SelfSubscribe(Vec<(&'static str, FieldValue)>),
    Remove,
    Pause,
    Resume,
    Set {
        key: String,
        value: FieldValue,
    },
    /// Several keys at once, audited as one change (a reply with several commands).
    SetMany {
        action: String,
        sets: Vec<(String, FieldValue)>,
    },
    /// Replace the whole entry with `new` (TOML: `[[subscriber]]` …), as from `$EDITOR`, provided
    /// the entry still reads `shown` (what the editor was given), so a concurrent change to it is
    /// never overwritten.
    Replace {
        shown: String,
        new: String,
    },
}

impl Change {
    fn action(&self) -> String {
        match self {
            Change::Add(_) => "add".into(),
            Change::SelfSubscribe(_) => "self-subscribed".into(),
            Change::Remove => "remove".into(),
            Change::Pause => "pause".into(),
            Change::Resume => "resume".into(),
            Change::Set { key, .. } => format!("set {key}"),
            Change::SetMany { action, .. } => action.clone(),
            Change::Replace { .. } => "edit".into(),
        }
    }
}

#[derive(Debug)]
pub struct Applied {
    pub action: String,
    pub before: Option<Subscriber>,
    pub after: Option<Subscriber>,
    /// `false` when the change made no difference (nothing written, nothing audited).
    pub changed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Edit(#[from] EditError),
    /// The change would leave the file invalid; nothing was written.
    #[error("the change was refused, the file is untouched:\n{0}")]
    Invalid(SubscribersError),
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}

pub struct Subscribers<'a> {
    pub path: PathBuf,
    pub prompts: PathBuf,
    pub config: &'a Config,
}

impl<'a> Subscribers<'a> {
    pub fn new(config: &'a Config) -> Subscribers<'a> {
        Subscribers {
            path: config.resolve(&config.subscribers),
            prompts: config.resolve(&config.prompts),
            config,
        }
    }

    pub fn load(&self) -> Result<Vec<Subscriber>, SubscribersError> {
        super::load(&self.path, &self.prompts, &self.config.categories())
    }

    fn parse_text(&self, text: &str) -> Result<Vec<Subscriber>, SubscribersError> {
        parse(
            text,
            &self.path.display().to_string(),
            &self.prompts,
            &self.config.categories(),
        )
    }

    /// Applies `change` to the entry of `email`, validates, writes and audits.
    pub fn apply(
        &self,
        store: &Store,
        email: &SubscriberEmail,
        change: Change,
        actor: &Actor,
    ) -> Result<Applied, AdminError> {
        // One editor at a time (the admin, the inbox applying a reply, an import): each reads,
        // changes and writes the file whole under the lock, so no edit is lost to another.
        let _edit = crate::support::lock::hold_blocking(
            &self.config.lock_path("subscribers"),
            &format!("editing {}", self.path.display()),
            std::time::Duration::from_secs(30),
        )?;
        let mut file = SubscribersFile::open(&self.path)?;
        let before = self
            .parse_text(file.original())
            .ok()
            .and_then(|all| all.into_iter().find(|s| &s.email == email));
        let mut action = change.action();
        let mut dropped = Vec::new();
        match change {
            Change::Add(fields) | Change::SelfSubscribe(fields) => file.add(email, &fields)?,
            Change::Remove => file.remove(email)?,
            Change::Pause => {
                file.set(email, "paused", &FieldValue::Bool(true))?;
            }
            Change::Resume => {
                file.set(email, "paused", &FieldValue::Unset)?;
            }
            Change::Set { key, value } => dropped.extend(file.set(email, &key, &value)?),
            Change::SetMany { sets, .. } => {
                for (key, value) in sets {
                    dropped.extend(file.set(email, &key, &value)?);
                }
            }
            Change::Replace { shown, new } => {
                if file.entry_text(email)? != shown {
                    return Err(EditError::Conflict {
                        path: self.path.clone(),
                    }
                    .into());
                }
                file.replace_entry(email, &new)?
            }
        }
        for d in &dropped {
            action.push_str(&format!(" (replacing {d}, which was removed)"));
        }
        let after_all = self.parse_text(&file.text()).map_err(AdminError::Invalid)?;
        let after = after_all.into_iter().find(|s| &s.email == email);
        let before_json = before.as_ref().map(Subscriber::to_json);
        let after_json = after.as_ref().map(Subscriber::to_json);
        if file.text() == file.original() || (before.is_some() && before_json == after_json) {
            return Ok(Applied {
                action,
                before,
                after,
                changed: false,
            });
        }
        file.save()?;
        // A removed reader's reply and unsubscribe addresses stop working.
        store.record_change(
            actor,
            email,
            &action,
            before_json.as_ref(),
            after_json.as_ref(),
        )?;
        Ok(Applied {
            action,
            before,
            after,
            changed: true,
        })
    }
}
