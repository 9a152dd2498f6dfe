//! A subscriber's settings as one reply's commands change them, and the file changes that
//! result; also the settings recorded in the audit trail, for `undo`.

use std::collections::BTreeMap;

use crate::domain::Subscriber;
use crate::inbox::commands::{Command, TopicRef};
use crate::subscribers::edit::FieldValue;

/// What replies may grow a reader's settings to (a file the admin writes may hold more): every
/// topic, author and keyword is in every prompt that carries the reader, so a stranger with a
/// forwarded digest, or a mail loop, must not make one reader's calls unaffordable.
pub const MAX_TOPICS: usize = 40;
pub const MAX_TOPIC_CHARS: usize = 300;
pub const MAX_AUTHORS: usize = 200;
pub const MAX_KEYWORDS: usize = 100;
/// Characters of one followed author or keyword.
pub const MAX_NAME_CHARS: usize = 100;

/// The subscriber's topics as a list: one per non-empty line, bullets and numbers removed.
pub fn topic_lines(topics: &str) -> Vec<String> {
    topics
        .lines()
        .map(|l| {
            let t = l.trim();
            let t = t.trim_start_matches(['-', '*', '•']).trim_start();
            let digits = t.chars().take_while(|c| c.is_ascii_digit()).count();
            if digits > 0 && t[digits..].starts_with(['.', ')']) {
                t[digits + 1..].trim().to_string()
            } else {
                t.to_string()
            }
        })
        .filter(|t| !t.is_empty())
        .collect()
}

pub(super) fn numbered(topics: &[String]) -> String {
    if topics.is_empty() {
        return "  (none)".into();
    }
    topics
        .iter()
        .enumerate()
        .map(|(i, t)| format!("  {}. {t}", i + 1))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The entry's settable fields from an audit JSON, as changes: all of them (`diff_from` None) or
/// only those that differ from `diff_from`.
pub(super) fn fields_of(
    v: &serde_json::Value,
    diff_from: Option<&serde_json::Value>,
) -> Vec<(&'static str, FieldValue)> {
    use serde_json::Value;
    let mut out = Vec::new();
    for (key, list) in [
        ("name", false),
        ("topics", false),
        ("authors", true),
        ("keywords", true),
        ("categories", true),
        ("min_relevance", false),
        ("min_novelty", false),
        ("max_papers", false),
        ("full_cards", false),
        ("send_empty", false),
        ("paused", false),
        ("language", false),
        ("frequency", false),
        ("weekday", false),
    ] {
        let value = v.get(key).cloned().unwrap_or(Value::Null);
        if let Some(other) = diff_from {
            if other.get(key).cloned().unwrap_or(Value::Null) == value {
                continue;
            }
        }
        let field = match (&value, list) {
            (Value::Null, _) => FieldValue::Unset,
            (Value::Array(items), true) => FieldValue::List(
                items
                    .iter()
                    .filter_map(|i| i.as_str().map(str::to_string))
                    .collect(),
            ),
            (Value::String(s), _) => FieldValue::Text(s.clone()),
            (Value::Number(n), _) => n.as_i64().map_or(FieldValue::Unset, FieldValue::Int),
            (Value::Bool(b), _) => FieldValue::Bool(*b),
            _ => continue,
        };
        if diff_from.is_none() && matches!(field, FieldValue::Unset) {
            continue;
        }
        out.push((key, field));
    }
    out
}

/// A subscriber's settings being changed by the commands of one reply.
pub(super) struct State {
    pub(super) topics: Vec<String>,
    authors: Vec<String>,
    keywords: Vec<String>,
    numbers: BTreeMap<&'static str, i64>,
    paused: Option<bool>,
    language: Option<String>,
    frequency: Option<Option<chrono::Weekday>>,
    pub(super) changes: Vec<String>,
}

impl State {
    pub(super) fn of(s: &Subscriber) -> State {
        State {
            topics: topic_lines(&s.topics),
            authors: s.authors.clone(),
            keywords: s.keywords.clone(),
            numbers: BTreeMap::new(),
            paused: None,
            language: None,
            frequency: None,
            changes: Vec::new(),
        }
    }

    /// Applies one command to the settings, noting the change; `Err` says why it cannot apply.
    pub(super) fn apply(&mut self, c: &Command) -> Result<(), String> {
        match c {
            Command::AddTopic(t) => {
                within(t, MAX_TOPIC_CHARS, "a topic")?;
                full(&self.topics, MAX_TOPICS, "topics", "remove topic 3")?;
                add_new(&mut self.topics, t, "you already have this topic")?;
                self.changes.push(format!("added topic: {t}"));
            }
            Command::RemoveTopic(TopicRef::Number(n)) => self.remove_topic_number(*n)?,
            Command::RemoveTopic(TopicRef::Text(t)) => self.remove_topic_text(t)?,
            Command::SetTopics(list) => {
                if list.len() > MAX_TOPICS {
                    return Err(format!(
                        "{} topics is more than the {MAX_TOPICS} a reply may set",
                        list.len()
                    ));
                }
                for t in list {
                    within(t, MAX_TOPIC_CHARS, "a topic")?;
                }
                self.topics = list.clone();
                self.changes
                    .push(format!("topics replaced ({} topics)", list.len()));
            }
            Command::Follow(a) => {
                within(a, MAX_NAME_CHARS, "an author's name")?;
                full(&self.authors, MAX_AUTHORS, "followed authors", "unfollow …")?;
                add_new(&mut self.authors, a, "you already follow them")?;
                self.changes.push(format!("following {a}"));
            }
            Command::Unfollow(a) => {
                remove_all(&mut self.authors, a, "you do not follow them")?;
                self.changes.push(format!("no longer following {a}"));
            }
            Command::AddKeyword(k) => {
                within(k, MAX_NAME_CHARS, "a keyword")?;
                full(&self.keywords, MAX_KEYWORDS, "keywords", "remove keyword …")?;
                add_new(&mut self.keywords, k, "you already have this keyword")?;
                self.changes.push(format!("added keyword: {k}"));
            }
            Command::RemoveKeyword(k) => {
                remove_all(&mut self.keywords, k, "you do not have this keyword")?;
                self.changes.push(format!("removed keyword: {k}"));
            }
            Command::Relevance(n) => self.set_bar("min_relevance", "relevance", *n)?,
            Command::Novelty(n) => self.set_bar("min_novelty", "novelty", *n)?,
            Command::Max(n) => {
                if !(1..=1000).contains(n) {
                    return Err("use a number from 1 to 1000".into());
                }
                self.numbers.insert("max_papers", *n);
                self.changes.push(format!("at most {n} papers a day"));
            }
            Command::Cards(n) => {
                if !(0..=crate::domain::MAX_FULL_CARDS as i64).contains(n) {
                    return Err(format!(
                        "use a number from 0 to {}",
                        crate::domain::MAX_FULL_CARDS
                    ));
                }
                self.numbers.insert("full_cards", *n);
                self.changes
                    .push(format!("{n} papers in full, the rest in a line each"));
            }
            Command::Frequency(f) => self.set_frequency(*f),
            Command::Language(tag) => self.set_language(tag),
            Command::Pause => {
                self.paused = Some(true);
                self.changes
                    .push("paused: no digests until you reply \"resume\"".into());
            }
            Command::Resume => {
                self.paused = Some(false);
                self.changes.push("resumed".into());
            }
            Command::ListTopics
            | Command::Help
            | Command::Undo
            | Command::Yes
            | Command::Unsubscribe
            | Command::MoreLike(_)
            | Command::LessLike(_) => {}
        }
        Ok(())
    }

    /// Removes the topic numbered `n` (from 1) in the `topics` listing.
    fn remove_topic_number(&mut self, n: usize) -> Result<(), String> {
        if n == 0 || n > self.topics.len() {
            return Err(format!(
                "there is no topic {n}; you have {}",
                self.topics.len()
            ));
        }
        let t = self.topics.remove(n - 1);
        self.changes.push(format!("removed topic: {t}"));
        Ok(())
    }

    /// Removes the topic that is `t`, or else the only one containing it.
    fn remove_topic_text(&mut self, t: &str) -> Result<(), String> {
        let lower = t.to_lowercase();
        let exact = self.topics.iter().position(|x| same(x, t));
        let partial: Vec<usize> = self
            .topics
            .iter()
            .enumerate()
            .filter(|(_, x)| x.to_lowercase().contains(&lower))
            .map(|(i, _)| i)
            .collect();
        let i = match (exact, partial.as_slice()) {
            (Some(i), _) => i,
            (None, [i]) => *i,
            (None, []) => {
                return Err("none of your topics matches it; reply \"topics\" to see them".into())
            }
            (None, _) => return Err("several topics match it; give its number instead".into()),
        };
        let t = self.topics.remove(i);
        self.changes.push(format!("removed topic: {t}"));
        Ok(())
    }

    /// Sets a score bar (`key` in the file, `label` in the change noted) to `n`, from 1 to 10.
    fn set_bar(&mut self, key: &'static str, label: &str, n: i64) -> Result<(), String> {
        if !(1..=10).contains(&n) {
            return Err("use a whole number from 1 to 10".into());
        }
        self.numbers.insert(key, n);
        self.changes.push(format!("{label} bar now {n}"));
        Ok(())
    }

    /// Daily digests (`None`), or weekly ones from the given day.
    fn set_frequency(&mut self, f: Option<chrono::Weekday>) {
        self.frequency = Some(f);
        self.changes.push(match f {
            None => "a digest every announcement day".to_string(),
            Some(d) => format!("one digest a week, with the first run on or after {d}"),
        });
    }

    /// The language (a BCP 47 tag) of the TL;DRs and comments.
    fn set_language(&mut self, tag: &str) {
        self.language = Some(tag.to_string());
        self.changes.push(format!(
            "TL;DR and comments now in {}",
            crate::domain::Language::parse(tag).map_or(tag.to_string(), |l| l.name().to_string())
        ));
    }

    /// The file changes that get from `s` to this state.
    pub(super) fn sets(&self, s: &Subscriber) -> Vec<(String, FieldValue)> {
        let mut sets = Vec::new();
        if self.topics != topic_lines(&s.topics) {
            sets.push((
                "topics".to_string(),
                FieldValue::Text(self.topics.join("\n")),
            ));
        }
        if self.authors != s.authors {
            sets.push((
                "authors".to_string(),
                FieldValue::List(self.authors.clone()),
            ));
        }
        if self.keywords != s.keywords {
            sets.push((
                "keywords".to_string(),
                FieldValue::List(self.keywords.clone()),
            ));
        }
        for (k, v) in &self.numbers {
            sets.push((k.to_string(), FieldValue::Int(*v)));
        }
        if let Some(f) = self.frequency {
            match f {
                None => {
                    sets.push(("frequency".into(), FieldValue::Unset));
                    sets.push(("weekday".into(), FieldValue::Unset));
                }
                Some(d) => {
                    sets.push(("frequency".into(), FieldValue::Text("weekly".into())));
                    sets.push(("weekday".into(), FieldValue::Text(format!("{d}"))));
                }
            }
        }
        if let Some(tag) = &self.language {
            if tag != s.language.tag() {
                sets.push(("language".into(), FieldValue::Text(tag.clone())));
            }
        }
        match self.paused {
            Some(true) if !s.paused => sets.push(("paused".into(), FieldValue::Bool(true))),
            Some(false) if s.paused => sets.push(("paused".into(), FieldValue::Unset)),
            _ => {}
        }
        sets
    }
}

/// Whether two topics, authors or keywords are the same, TeX and case aside.
fn same(a: &str, b: &str) -> bool {
    crate::support::tex::to_unicode(a).to_lowercase()
        == crate::support::tex::to_unicode(b).to_lowercase()
}

/// Appends `item` to `list` unless it is already there (then `Err(already)`).
/// `Err` when `text` is longer than `max` characters.
fn within(text: &str, max: usize, what: &str) -> Result<(), String> {
    let n = text.chars().count();
    if n > max {
        return Err(format!(
            "{what} may be at most {max} characters; this one has {n}"
        ));
    }
    Ok(())
}

/// `Err` when `list` already holds `cap` entries: the answer says the cap and how to make room.
fn full(list: &[String], cap: usize, what: &str, how: &str) -> Result<(), String> {
    if list.len() >= cap {
        return Err(format!(
            "you have {} {what}, the most a reply may add up to ({cap}); make room first (\"{how}\")",
            list.len()
        ));
    }
    Ok(())
}

fn add_new(list: &mut Vec<String>, item: &str, already: &str) -> Result<(), String> {
    if list.iter().any(|x| same(x, item)) {
        return Err(already.into());
    }
    list.push(item.to_string());
    Ok(())
}

/// Removes every entry of `list` that is `item`; `Err(missing)` when there was none.
fn remove_all(list: &mut Vec<String>, item: &str, missing: &str) -> Result<(), String> {
    let before = list.len();
    list.retain(|x| !same(x, item));
    if list.len() == before {
        return Err(missing.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics() {
        assert_eq!(
            topic_lines("- MoE\n\n2. KV cache\n* sparse attention \n"),
            vec!["MoE", "KV cache", "sparse attention"]
        );
    }
}
