//! Format-preserving edits of `subscribers.toml` (toml_edit): comments, order and formatting of
//! everything not touched survive. Writes are atomic (temp file + rename) and refuse to overwrite
//! a change someone else made to the file after it was read.

use std::path::{Path, PathBuf};

use toml_edit::{Array, ArrayOfTables, DocumentMut, Item, Table, Value};

use crate::domain::SubscriberEmail;

/// The keys `set` can change, and what kind of value each takes.
pub const SETTABLE: &[(&str, Kind)] = &[
    ("name", Kind::Text),
    ("topics", Kind::Text),
    ("topics_file", Kind::Text),
    ("authors", Kind::List),
    ("keywords", Kind::List),
    ("categories", Kind::List),
    ("min_relevance", Kind::Int),
    ("min_novelty", Kind::Int),
    ("max_papers", Kind::Int),
    ("full_cards", Kind::Int),
    ("group_by_topic", Kind::Bool),
    ("send_empty", Kind::Bool),
    ("paused", Kind::Bool),
    ("language", Kind::Text),
    ("frequency", Kind::Text),
    ("weekday", Kind::Text),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    List,
    Int,
    Bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    Text(String),
    List(Vec<String>),
    Int(i64),
    Bool(bool),
    /// Remove the key (back to its default).
    Unset,
}

impl FieldValue {
    /// Reads a value for `key` as typed on a command line: lists are comma-separated (or a TOML
    /// array), numbers are whole numbers, booleans are true/false/yes/no; empty means unset.
    pub fn parse(key: &str, raw: &str) -> Result<FieldValue, String> {
        let kind = SETTABLE.iter().find(|(k, _)| *k == key).map(|(_, kind)| *kind).ok_or_else(|| {
            let keys: Vec<&str> = SETTABLE.iter().map(|(k, _)| *k).collect();
            if key == "email" {
                "the email of an entry cannot be changed; remove the subscriber and add the new address".to_string()
            } else {
                format!("`{key}` is not a subscriber key; use one of {}", keys.join(", "))
            }
        })?;
        let raw_trim = raw.trim();
        if raw_trim.is_empty() {
            return Ok(FieldValue::Unset);
        }
        Ok(match kind {
            Kind::Text => FieldValue::Text(raw.to_string()),
            Kind::List => {
                if raw_trim.starts_with('[') {
                    let v: Value = raw_trim
                        .parse()
                        .map_err(|e| format!("`{raw}` is not a TOML array: {e}"))?;
                    let arr = v
                        .as_array()
                        .ok_or_else(|| format!("`{raw}` is not a TOML array"))?;
                    FieldValue::List(
                        arr.iter()
                            .map(|v| {
                                v.as_str()
                                    .map(str::to_string)
                                    .ok_or_else(|| format!("`{raw}` must hold only strings"))
                            })
                            .collect::<Result<_, _>>()?,
                    )
                } else {
                    FieldValue::List(
                        raw.split(',')
                            .map(|s| s.trim().to_string())
                            .filter(|s| !s.is_empty())
                            .collect(),
                    )
                }
            }
            Kind::Int => FieldValue::Int(
                raw_trim
                    .parse()
                    .map_err(|_| format!("{key} must be a whole number, not `{raw}`"))?,
            ),
            Kind::Bool => FieldValue::Bool(match raw_trim.to_lowercase().as_str() {
                "true" | "yes" | "on" | "1" => true,
                "false" | "no" | "off" | "0" => false,
                _ => return Err(format!("{key} must be true or false, not `{raw}`")),
            }),
        })
    }

    fn to_item(&self) -> Option<Item> {
        Some(match self {
            FieldValue::Text(s) => toml_edit::value(s.as_str()),
            FieldValue::List(items) => {
                toml_edit::value(items.iter().map(String::as_str).collect::<Array>())
            }
            FieldValue::Int(n) => toml_edit::value(*n),
            FieldValue::Bool(b) => toml_edit::value(*b),
            FieldValue::Unset => return None,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not valid TOML: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error(
        "no subscriber {0} in the subscribers file; `paperboy subscribers list` shows who is there"
    )]
    NotFound(String),
    #[error(
        "{0} is already a subscriber; use `paperboy subscribers set` or `edit` to change the entry"
    )]
    Exists(String),
    #[error("{path} was changed by someone else after paperboy read it; nothing was written, run the command again")]
    Conflict { path: PathBuf },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

/// An open subscribers file: the text as read and the editable document.
pub struct SubscribersFile {
    path: PathBuf,
    original: String,
    doc: DocumentMut,
}

impl SubscribersFile {
    pub fn open(path: &Path) -> Result<SubscribersFile, EditError> {
        let original = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(EditError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let doc: DocumentMut =
            original
                .parse()
                .map_err(|e: toml_edit::TomlError| EditError::Syntax {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                })?;
        Ok(SubscribersFile {
            path: path.to_path_buf(),
            original,
            doc,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn original(&self) -> &str {
        &self.original
    }

    /// The document as it would be written now.
    pub fn text(&self) -> String {
        self.doc.to_string()
    }

    fn entries(&self) -> Option<&ArrayOfTables> {
        self.doc
            .get("subscriber")
            .and_then(Item::as_array_of_tables)
    }

    fn entries_mut(&mut self) -> &mut ArrayOfTables {
        if self
            .doc
            .get("subscriber")
            .and_then(Item::as_array_of_tables)
            .is_none()
        {
            self.doc
                .insert("subscriber", Item::ArrayOfTables(ArrayOfTables::new()));
        }
        self.doc["subscriber"]
            .as_array_of_tables_mut()
            .expect("just made sure")
    }

    fn index_of(&self, email: &SubscriberEmail) -> Option<usize> {
        self.entries()?.iter().position(|t| {
            t.get("email")
                .and_then(Item::as_str)
                .and_then(|e| SubscriberEmail::parse(e).ok())
                .is_some_and(|e| &e == email)
        })
    }

    pub fn contains(&self, email: &SubscriberEmail) -> bool {
        self.index_of(email).is_some()
    }

    /// Appends a new `[[subscriber]]` with the given fields (in the given order).
    pub fn add(
        &mut self,
        email: &SubscriberEmail,
        fields: &[(&str, FieldValue)],
    ) -> Result<(), EditError> {
        if self.contains(email) {
            return Err(EditError::Exists(email.to_string()));
        }
        let mut table = Table::new();
        table.insert("email", toml_edit::value(email.as_str()));
        for (key, value) in fields {
            if let Some(item) = value.to_item() {
                table.insert(key, item);
            }
        }
        self.entries_mut().push(table);
        Ok(())
    }

    pub fn remove(&mut self, email: &SubscriberEmail) -> Result<(), EditError> {
        let i = self
            .index_of(email)
            .ok_or_else(|| EditError::NotFound(email.to_string()))?;
        self.entries_mut().remove(i);
        Ok(())
    }

    /// Sets (or with `Unset` removes) one key, keeping the comment beside the old value.
    /// `topics` and `topics_file` replace each other: the key removed that way is returned, so
    /// the caller can say so.
    pub fn set(
        &mut self,
        email: &SubscriberEmail,
        key: &str,
        value: &FieldValue,
    ) -> Result<Option<&'static str>, EditError> {
        let i = self
            .index_of(email)
            .ok_or_else(|| EditError::NotFound(email.to_string()))?;
        let table = self.entries_mut().get_mut(i).expect("index from index_of");
        // A daily reader has no weekday: it goes with the weekly frequency.
        let daily = key == "frequency"
            && match value {
                FieldValue::Unset => true,
                FieldValue::Text(t) => t.trim().eq_ignore_ascii_case("daily"),
                _ => false,
            };
        let other = match key {
            "topics" => Some("topics_file"),
            "topics_file" => Some("topics"),
            _ if daily => Some("weekday"),
            _ => None,
        };
        match value.to_item() {
            None => {
                table.remove(key);
                Ok(other.filter(|o| table.remove(o).is_some()))
            }
            Some(mut item) => {
                if let (Some(new), Some(old)) =
                    (item.as_value_mut(), table.get(key).and_then(Item::as_value))
                {
                    *new.decor_mut() = old.decor().clone();
                }
                table.insert(key, item);
                Ok(other.filter(|o| table.remove(o).is_some()))
            }
        }
    }

    /// The entry of `email` as a small TOML document (`[[subscriber]]` and its keys, with comments).
    pub fn entry_text(&self, email: &SubscriberEmail) -> Result<String, EditError> {
        let i = self
            .index_of(email)
            .ok_or_else(|| EditError::NotFound(email.to_string()))?;
        let table = self
            .entries()
            .expect("found")
            .get(i)
            .expect("found")
            .clone();
        let mut aot = ArrayOfTables::new();
        aot.push(table);
        let mut doc = DocumentMut::new();
        doc.insert("subscriber", Item::ArrayOfTables(aot));
        Ok(doc.to_string())
    }

    /// Replaces the entry of `email` with the one `[[subscriber]]` in `text` (its email unchanged).
    pub fn replace_entry(&mut self, email: &SubscriberEmail, text: &str) -> Result<(), EditError> {
        let i = self
            .index_of(email)
            .ok_or_else(|| EditError::NotFound(email.to_string()))?;
        let doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| {
            EditError::Invalid(format!("the edited entry is not valid TOML: {e}"))
        })?;
        let extra: Vec<&str> = doc
            .iter()
            .map(|(k, _)| k)
            .filter(|k| *k != "subscriber")
            .collect();
        if !extra.is_empty() {
            return Err(EditError::Invalid(format!(
                "the edited text may only hold one [[subscriber]] (found `{}`)",
                extra.join("`, `")
            )));
        }
        let tables = doc.get("subscriber").and_then(Item::as_array_of_tables);
        let table = match tables {
            Some(t) if t.len() == 1 => t.get(0).expect("one").clone(),
            _ => {
                return Err(EditError::Invalid(
                    "the edited text must hold exactly one [[subscriber]]".into(),
                ))
            }
        };
        let new_email = table
            .get("email")
            .and_then(Item::as_str)
            .and_then(|e| SubscriberEmail::parse(e).ok());
        if new_email.as_ref() != Some(email) {
            return Err(EditError::Invalid(format!(
                "the email must stay {email}; to change an address, remove the subscriber and add the new one"
            )));
        }
        // In place: the entry keeps its position in the file.
        let slot = self.entries_mut().get_mut(i).expect("index");
        let position = slot.position();
        *slot = table;
        slot.set_position(position);
        Ok(())
    }

    /// Writes the document atomically, unless the file changed on disk since it was read.
    pub fn save(&self) -> Result<(), EditError> {
        let now_on_disk = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(EditError::Read {
                    path: self.path.clone(),
                    source,
                })
            }
        };
        if now_on_disk != self.original {
            return Err(EditError::Conflict {
                path: self.path.clone(),
            });
        }
        let write_err = |source| EditError::Write {
            path: self.path.clone(),
            source,
        };
        // A symlinked file is written through to its target: the link stays a link, and the
        // file it points to is the one that changes.
        let target = match std::fs::symlink_metadata(&self.path) {
            Ok(m) if m.file_type().is_symlink() => {
                std::fs::canonicalize(&self.path).map_err(write_err)?
            }
            _ => self.path.clone(),
        };
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut tmp = tempfile::Builder::new()
            .prefix(".subscribers.")
            .suffix(".tmp")
            .tempfile_in(&dir)
            .map_err(write_err)?;
        std::io::Write::write_all(&mut tmp, self.text().as_bytes()).map_err(write_err)?;
        tmp.as_file().sync_all().map_err(write_err)?;
        if let Ok(meta) = std::fs::metadata(&target) {
            // The new file keeps the old one's mode and owner (run as root, the file does not
            // become root's).
            use std::os::unix::fs::MetadataExt as _;
            std::fs::set_permissions(tmp.path(), meta.permissions()).map_err(write_err)?;
            let mine = tmp.as_file().metadata().map_err(write_err)?;
            if (mine.uid(), mine.gid()) != (meta.uid(), meta.gid()) {
                std::os::unix::fs::chown(tmp.path(), Some(meta.uid()), Some(meta.gid()))
                    .map_err(write_err)?;
            }
        }
        tmp.persist(&target).map_err(|e| write_err(e.error))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"# The lab's subscribers.

[[subscriber]]
email = "ada@lab.org"   # Ada's work address
name = "Ada"
topics = "MoE"
min_relevance = 8       # she is picky

# Grace joined in March.
[[subscriber]]
email = "grace@lab.org"
topics = "LLMs"
"#;

    fn email(s: &str) -> SubscriberEmail {
        SubscriberEmail::parse(s).unwrap()
    }

    fn open(text: &str) -> (tempfile::TempDir, SubscribersFile) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("subscribers.toml");
        std::fs::write(&path, text).unwrap();
        let f = SubscribersFile::open(&path).unwrap();
        (dir, f)
    }

    #[test]
    fn set_keeps_comments_order_and_untouched_entries() {
        let (_d, mut f) = open(FILE);
        f.set(&email("ADA@lab.org"), "min_relevance", &FieldValue::Int(9))
            .unwrap();
        let text = f.text();
        assert!(
            text.contains("min_relevance = 9       # she is picky"),
            "{text}"
        );
        assert!(text.contains("email = \"ada@lab.org\"   # Ada's work address"));
        assert!(text.starts_with("# The lab's subscribers.\n"));
        assert!(text.contains("# Grace joined in March.\n[[subscriber]]\nemail = \"grace@lab.org\"\ntopics = \"LLMs\"\n"));
        assert_eq!(
            text.replace("min_relevance = 9 ", "min_relevance = 8 "),
            FILE
        );
    }

    #[test]
    fn topics_and_topics_file_replace_each_other_and_unset_removes() {
        let (_d, mut f) = open(FILE);
        f.set(
            &email("ada@lab.org"),
            "topics_file",
            &FieldValue::Text("ml.md".into()),
        )
        .unwrap();
        let text = f.text();
        assert!(
            text.contains("topics_file = \"ml.md\"") && !text.contains("topics = \"MoE\""),
            "{text}"
        );
        f.set(&email("ada@lab.org"), "min_relevance", &FieldValue::Unset)
            .unwrap();
        assert!(!f.text().contains("min_relevance"));
        // Back to daily: the weekday goes with the weekly frequency.
        let ada = email("ada@lab.org");
        f.set(&ada, "frequency", &FieldValue::Text("weekly".into()))
            .unwrap();
        f.set(&ada, "weekday", &FieldValue::Text("Fri".into()))
            .unwrap();
        let dropped = f
            .set(&ada, "frequency", &FieldValue::Text("daily".into()))
            .unwrap();
        assert_eq!(dropped, Some("weekday"));
        assert!(!f.text().contains("weekday"), "{}", f.text());
    }

    #[test]
    fn text_with_toml_syntax_is_data() {
        let (_d, mut f) = open(FILE);
        let evil =
            "sparse \"attention\"\n[[subscriber]]\nemail = \"evil@x.org\" # ''' \"\"\" <b>html</b>";
        f.set(
            &email("grace@lab.org"),
            "topics",
            &FieldValue::Text(evil.into()),
        )
        .unwrap();
        let parsed: toml::Table = f.text().parse().unwrap();
        let subs = parsed["subscriber"].as_array().unwrap();
        assert_eq!(subs.len(), 2);
        assert_eq!(subs[1]["topics"].as_str().unwrap(), evil);
    }

    #[test]
    fn an_edited_entry_stays_where_it_was() {
        let three = format!(
            "{FILE}\n[[subscriber]]\nemail = \"eve@lab.org\"\nname = \"Eve\"\ntopics = \"RL\"\n"
        );
        for who in ["ada@lab.org", "grace@lab.org", "eve@lab.org"] {
            let (_d, mut f) = open(&three);
            let before: Vec<usize> = ["ada@", "grace@", "eve@"]
                .iter()
                .map(|e| f.text().find(e).unwrap())
                .collect();
            assert!(before.windows(2).all(|w| w[0] < w[1]));
            let entry = f.entry_text(&email(who)).unwrap();
            f.replace_entry(&email(who), &format!("{entry}min_novelty = 3\n"))
                .unwrap();
            let text = f.text();
            let after: Vec<usize> = ["ada@", "grace@", "eve@"]
                .iter()
                .map(|e| text.find(e).unwrap())
                .collect();
            assert!(
                after.windows(2).all(|w| w[0] < w[1]),
                "editing {who}:\n{text}"
            );
        }
    }

    #[test]
    fn add_remove_and_entry_round_trip() {
        let (_d, mut f) = open(FILE);
        assert!(matches!(
            f.add(&email("ada@lab.org"), &[]),
            Err(EditError::Exists(_))
        ));
        f.add(
            &email("bob@lab.org"),
            &[
                ("name", FieldValue::Text("Bob".into())),
                ("keywords", FieldValue::List(vec!["a".into(), "b".into()])),
            ],
        )
        .unwrap();
        assert!(f.text().ends_with("[[subscriber]]\nemail = \"bob@lab.org\"\nname = \"Bob\"\nkeywords = [\"a\", \"b\"]\n"), "{}", f.text());
        f.remove(&email("grace@lab.org")).unwrap();
        assert!(!f.text().contains("grace"));
        let entry = f.entry_text(&email("ada@lab.org")).unwrap();
        assert!(entry.contains("# she is picky"));
        f.replace_entry(
            &email("ada@lab.org"),
            &entry.replace("\"MoE\"", "\"MoE and sparsity\""),
        )
        .unwrap();
        assert!(f.text().contains("topics = \"MoE and sparsity\""));
        let moved = entry.replace("ada@lab.org", "eve@lab.org");
        assert!(matches!(
            f.replace_entry(&email("ada@lab.org"), &moved),
            Err(EditError::Invalid(_))
        ));
    }

    #[test]
    fn save_is_atomic_and_refuses_to_clobber() {
        let (dir, mut f) = open(FILE);
        f.set(&email("ada@lab.org"), "paused", &FieldValue::Bool(true))
            .unwrap();
        // Someone edits the file meanwhile.
        std::fs::write(
            dir.path().join("subscribers.toml"),
            format!("{FILE}\n# edited by hand\n"),
        )
        .unwrap();
        assert!(matches!(f.save(), Err(EditError::Conflict { .. })));
        assert!(std::fs::read_to_string(dir.path().join("subscribers.toml"))
            .unwrap()
            .ends_with("# edited by hand\n"));

        let mut f = SubscribersFile::open(&dir.path().join("subscribers.toml")).unwrap();
        f.set(&email("ada@lab.org"), "paused", &FieldValue::Bool(true))
            .unwrap();
        f.save().unwrap();
        let text = std::fs::read_to_string(dir.path().join("subscribers.toml")).unwrap();
        assert!(text.contains("paused = true") && text.ends_with("# edited by hand\n"));
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "no temp file left behind");
    }

    #[test]
    fn values_from_the_command_line() {
        assert_eq!(
            FieldValue::parse("keywords", "moe, sparse ,").unwrap(),
            FieldValue::List(vec!["moe".into(), "sparse".into()])
        );
        assert_eq!(
            FieldValue::parse("authors", r#"["Lee, J.", "Bo"]"#).unwrap(),
            FieldValue::List(vec!["Lee, J.".into(), "Bo".into()])
        );
        assert_eq!(
            FieldValue::parse("min_novelty", "6").unwrap(),
            FieldValue::Int(6)
        );
        assert_eq!(
            FieldValue::parse("paused", "yes").unwrap(),
            FieldValue::Bool(true)
        );
        assert_eq!(
            FieldValue::parse("max_papers", "").unwrap(),
            FieldValue::Unset
        );
        assert!(FieldValue::parse("min_novelty", "six")
            .unwrap_err()
            .contains("whole number"));
        assert!(FieldValue::parse("email", "x@y.org")
            .unwrap_err()
            .contains("remove the subscriber"));
        assert!(FieldValue::parse("topic", "x")
            .unwrap_err()
            .contains("not a subscriber key"));
    }
}
