//! A subscriber's settings as one reply's commands change them, and the file changes that
//! result; also the settings recorded in the audit trail, for `undo`.

use std::collections::BTreeMap;

use crate::domain::Subscriber;
use crate::inbox::commands::{Command, TopicRef};
use crate::subscribers::edit::FieldValue;

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

    pub(super) fn apply(&mut self, c: &Command) -> Result<(), String> {
        let same = |a: &str, b: &str| {
            crate::support::tex::to_unicode(a).to_lowercase()
                == crate::support::tex::to_unicode(b).to_lowercase()
        };
        match c {
            Command::AddTopic(t) => {
                if self.topics.iter().any(|x| same(x, t)) {
                    return Err("you already have this topic".into());
                }
                self.topics.push(t.clone());
                self.changes.push(format!("added topic: {t}"));
            }
            Command::RemoveTopic(TopicRef::Number(n)) => {
                if *n == 0 || *n > self.topics.len() {
                    return Err(format!(
                        "there is no topic {n}; you have {}",
                        self.topics.len()
                    ));
                }
                let t = self.topics.remove(n - 1);
                self.changes.push(format!("removed topic: {t}"));
            }
            Command::RemoveTopic(TopicRef::Text(t)) => {
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
                        return Err(
                            "none of your topics matches it; reply \"topics\" to see them".into(),
                        )
                    }
                    (None, _) => {
                        return Err("several topics match it; give its number instead".into())
                    }
                };
                let t = self.topics.remove(i);
                self.changes.push(format!("removed topic: {t}"));
            }
            Command::SetTopics(list) => {
                self.topics = list.clone();
                self.changes
                    .push(format!("topics replaced ({} topics)", list.len()));
            }
            Command::Follow(a) => {
                if self.authors.iter().any(|x| same(x, a)) {
                    return Err("you already follow them".into());
                }
                self.authors.push(a.clone());
                self.changes.push(format!("following {a}"));
            }
            Command::Unfollow(a) => {
                let before = self.authors.len();
                self.authors.retain(|x| !same(x, a));
                if self.authors.len() == before {
                    return Err("you do not follow them".into());
                }
                self.changes.push(format!("no longer following {a}"));
            }
            Command::AddKeyword(k) => {
                if self.keywords.iter().any(|x| same(x, k)) {
                    return Err("you already have this keyword".into());
                }
                self.keywords.push(k.clone());
                self.changes.push(format!("added keyword: {k}"));
            }
            Command::RemoveKeyword(k) => {
                let before = self.keywords.len();
                self.keywords.retain(|x| !same(x, k));
                if self.keywords.len() == before {
                    return Err("you do not have this keyword".into());
                }
                self.changes.push(format!("removed keyword: {k}"));
            }
            Command::Relevance(n) | Command::Novelty(n) => {
                if !(1..=10).contains(n) {
                    return Err("use a whole number from 1 to 10".into());
                }
                let key = if matches!(c, Command::Relevance(_)) {
                    "min_relevance"
                } else {
                    "min_novelty"
                };
                self.numbers.insert(key, *n);
                self.changes.push(format!(
                    "{} bar now {n}",
                    if key == "min_relevance" {
                        "relevance"
                    } else {
                        "novelty"
                    }
                ));
            }
            Command::Max(n) => {
                if !(1..=1000).contains(n) {
                    return Err("use a number from 1 to 1000".into());
                }
                self.numbers.insert("max_papers", *n);
                self.changes.push(format!("at most {n} papers a day"));
            }
            Command::Frequency(f) => {
                self.frequency = Some(*f);
                self.changes.push(match f {
                    None => "a digest every announcement day".to_string(),
                    Some(d) => format!("one digest a week, with the first run on or after {d}"),
                });
            }
            Command::Language(tag) => {
                self.language = Some(tag.clone());
                self.changes.push(format!(
                    "TL;DR and comments now in {}",
                    crate::domain::Language::parse(tag)
                        .map_or(tag.clone(), |l| l.name().to_string())
                ));
            }
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
