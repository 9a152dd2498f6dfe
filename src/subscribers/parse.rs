//! Reading `subscribers.toml`: every entry checked, every problem reported with its line and key.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::{Problem, SubscribersError};
use crate::domain::{
    parse_weekday, Category, Frequency, Score, Subscriber, SubscriberEmail, DEFAULT_FULL_CARDS,
    DEFAULT_MAX_PAPERS, DEFAULT_MIN_NOVELTY, DEFAULT_MIN_RELEVANCE, MAX_FULL_CARDS,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    subscriber: Vec<Spanned<RawSubscriber>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSubscriber {
    email: Option<Spanned<String>>,
    name: Option<Spanned<String>>,
    topics: Option<Spanned<String>>,
    topics_file: Option<Spanned<String>>,
    #[serde(default)]
    authors: Vec<Spanned<String>>,
    #[serde(default)]
    keywords: Vec<Spanned<String>>,
    categories: Option<Vec<Spanned<String>>>,
    min_relevance: Option<Spanned<i64>>,
    min_novelty: Option<Spanned<i64>>,
    max_papers: Option<Spanned<i64>>,
    full_cards: Option<Spanned<i64>>,
    group_by_topic: Option<bool>,
    send_empty: Option<bool>,
    paused: Option<bool>,
    language: Option<Spanned<String>>,
    frequency: Option<Spanned<String>>,
    weekday: Option<Spanned<String>>,
}

/// Loads and validates `path`. `prompts_dir` is where `topics_file` paths point;
/// `known_categories` are the configured ones (a subscriber may pick a subset).
pub fn load(
    path: &Path,
    prompts_dir: &Path,
    known_categories: &[Category],
) -> Result<Vec<Subscriber>, SubscribersError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| SubscribersError {
        problems: vec![Problem {
            source: file.clone(),
            line: None,
            key: None,
            message: if e.kind() == std::io::ErrorKind::NotFound {
                format!("cannot read it ({e}); create it from the commented example in the README")
            } else {
                format!(
                    "cannot read it ({})",
                    crate::support::limits::io_problem(&e)
                )
            },
        }],
    })?;
    parse(&text, &file, prompts_dir, known_categories)
}

pub fn parse(
    text: &str,
    file: &str,
    prompts_dir: &Path,
    known: &[Category],
) -> Result<Vec<Subscriber>, SubscribersError> {
    let raw: RawFile = toml::from_str(text).map_err(|e| SubscribersError {
        problems: vec![Problem {
            source: file.to_string(),
            line: e.span().map(|s| line_of(text, s.start)),
            key: None,
            message: e.message().trim().to_string(),
        }],
    })?;
    let mut problems = Vec::new();
    let mut subscribers = Vec::new();
    let mut seen = HashSet::new();
    for entry in raw.subscriber {
        let entry_line = line_of(text, entry.span().start);
        let mut ctx = Ctx {
            text,
            file,
            problems: &mut problems,
            entry_line,
        };
        let parsed_email = entry.get_ref().email.as_ref().and_then(|e| {
            SubscriberEmail::parse(e.get_ref())
                .ok()
                .map(|email| (email, line_of(text, e.span().start)))
        });
        if let Some((email, line)) = parsed_email {
            if !seen.insert(email.clone()) {
                ctx.problem(
                    Some(line),
                    "email",
                    format!("{email} is listed twice; merge the two entries"),
                );
                continue;
            }
        }
        if let Some(s) = validate(entry.into_inner(), &mut ctx, prompts_dir, known) {
            subscribers.push(s);
        }
    }
    problems.sort_by_key(|p| p.line);
    if problems.is_empty() {
        Ok(subscribers)
    } else {
        Err(SubscribersError { problems })
    }
}

struct Ctx<'a> {
    text: &'a str,
    file: &'a str,
    problems: &'a mut Vec<Problem>,
    entry_line: usize,
}

impl Ctx<'_> {
    fn line<T>(&self, s: &Spanned<T>) -> usize {
        line_of(self.text, s.span().start)
    }

    fn problem(&mut self, line: Option<usize>, key: &str, message: String) {
        self.problems.push(Problem {
            source: self.file.to_string(),
            line: Some(line.unwrap_or(self.entry_line)),
            key: Some(key.to_string()),
            message,
        });
    }
}

/// One `[[subscriber]]` entry checked field by field: the subscriber, or `None` when any field
/// had a problem (each one reported to `ctx`, in the order of the fields below).
fn validate(
    raw: RawSubscriber,
    ctx: &mut Ctx,
    prompts_dir: &Path,
    known: &[Category],
) -> Option<Subscriber> {
    let before = ctx.problems.len();
    let email = email(&raw.email, ctx);
    let name = raw
        .name
        .as_ref()
        .map(|n| n.get_ref().trim().to_string())
        .unwrap_or_default();
    let frequency = frequency(&raw.frequency, &raw.weekday, ctx);
    let language = language(&raw.language, ctx);
    check_name(&raw.name, ctx);
    let topics = topics(&raw.topics, &raw.topics_file, ctx, prompts_dir);
    let authors = list(&raw.authors, "authors", ctx);
    let keywords = list(&raw.keywords, "keywords", ctx);
    if raw.topics.is_none()
        && raw.topics_file.is_none()
        && authors.is_empty()
        && keywords.is_empty()
    {
        ctx.problem(
            None,
            "topics",
            "this subscriber has no topics, topics_file, keywords or authors; add topics = \"...\""
                .into(),
        );
    }
    let categories = raw
        .categories
        .as_ref()
        .map(|cats| categories(cats, ctx, known));
    let min_relevance = score(
        &raw.min_relevance,
        "min_relevance",
        DEFAULT_MIN_RELEVANCE,
        ctx,
    );
    let min_novelty = score(&raw.min_novelty, "min_novelty", DEFAULT_MIN_NOVELTY, ctx);
    let max_papers = count(
        &raw.max_papers,
        "max_papers",
        1..=1000,
        DEFAULT_MAX_PAPERS,
        ctx,
    );
    let full_cards = count(
        &raw.full_cards,
        "full_cards",
        0..=MAX_FULL_CARDS as i64,
        DEFAULT_FULL_CARDS,
        ctx,
    );

    if ctx.problems.len() > before {
        return None;
    }
    let email = email?;
    // The file is written by people and by subscribe requests: its text is cleaned like any
    // text from outside.
    let clean = |s: String| crate::support::text::clean(&s).into_owned();
    let (topics, name) = (clean(topics), clean(name));
    let authors: Vec<String> = authors.into_iter().map(clean).collect();
    let keywords: Vec<String> = keywords.into_iter().map(clean).collect();
    Some(Subscriber {
        name: if name.is_empty() {
            email.as_str().split('@').next().unwrap_or("").to_string()
        } else {
            name
        },
        email,
        topics,
        authors,
        keywords,
        categories,
        min_relevance,
        min_novelty,
        max_papers,
        full_cards,
        group_by_topic: raw.group_by_topic,
        send_empty: raw.send_empty.unwrap_or(true),
        language,
        frequency,
        paused: raw.paused.unwrap_or(false),
        examples: Vec::new(),
    })
}

/// The entry's `email`: required, and a valid address.
fn email(raw: &Option<Spanned<String>>, ctx: &mut Ctx) -> Option<SubscriberEmail> {
    match raw {
        None => {
            ctx.problem(
                None,
                "email",
                "this [[subscriber]] has no email; add email = \"name@example.org\"".into(),
            );
            None
        }
        Some(e) => match SubscriberEmail::parse(e.get_ref()) {
            Ok(v) => Some(v),
            Err(err) => {
                let line = ctx.line(e);
                ctx.problem(Some(line), "email", err.to_string());
                None
            }
        },
    }
}

/// The entry's `weekday` (Monday when absent or wrong); checked whatever the frequency.
fn weekday(raw: &Option<Spanned<String>>, ctx: &mut Ctx) -> chrono::Weekday {
    match raw {
        None => chrono::Weekday::Mon,
        Some(w) => match parse_weekday(w.get_ref()) {
            Some(d) => d,
            None => {
                let line = ctx.line(w);
                ctx.problem(
                    Some(line),
                    "weekday",
                    format!(
                        "`{}` is not a weekday; write Mon, Tue, … or Friday",
                        w.get_ref()
                    ),
                );
                chrono::Weekday::Mon
            }
        },
    }
}

/// The entry's `frequency` (daily when absent or wrong), weekly ones on its `weekday`.
fn frequency(
    raw: &Option<Spanned<String>>,
    weekday_raw: &Option<Spanned<String>>,
    ctx: &mut Ctx,
) -> Frequency {
    let weekday = weekday(weekday_raw, ctx);
    match raw.as_ref().map(|f| (f, f.get_ref().trim().to_lowercase())) {
        None => Frequency::Daily,
        Some((_, f)) if f == "daily" => Frequency::Daily,
        Some((_, f)) if f == "weekly" => Frequency::Weekly(weekday),
        Some((span, f)) => {
            let line = ctx.line(span);
            ctx.problem(
                Some(line),
                "frequency",
                format!("`{f}` is not a frequency; write \"daily\" or \"weekly\""),
            );
            Frequency::Daily
        }
    }
}

/// The entry's `language` (English when absent or wrong).
fn language(raw: &Option<Spanned<String>>, ctx: &mut Ctx) -> crate::domain::Language {
    match raw {
        None => crate::domain::Language::english(),
        Some(l) => match crate::domain::Language::parse(l.get_ref()) {
            Ok(lang) => lang,
            Err(e) => {
                let line = ctx.line(l);
                ctx.problem(Some(line), "language", e.to_string());
                crate::domain::Language::english()
            }
        },
    }
}

/// Reports a `name` that is not on one line (it goes into mail headers).
fn check_name(raw: &Option<Spanned<String>>, ctx: &mut Ctx) {
    if let Some(n) = raw {
        if n.get_ref().chars().any(char::is_control) {
            let line = ctx.line(n);
            ctx.problem(
                Some(line),
                "name",
                "has a line break or another control character; write the name on one line".into(),
            );
        }
    }
}

/// The entry's topics, from `topics` or from `topics_file` (never both); empty when neither.
fn topics(
    topics: &Option<Spanned<String>>,
    topics_file: &Option<Spanned<String>>,
    ctx: &mut Ctx,
    prompts_dir: &Path,
) -> String {
    match (topics, topics_file) {
        (Some(t), Some(f)) => {
            let line = ctx.line(f);
            ctx.problem(
                Some(line),
                "topics_file",
                format!(
                    "give either `topics` (line {}) or `topics_file`, not both",
                    ctx.line(t)
                ),
            );
            String::new()
        }
        (Some(t), None) => {
            let topics = t.get_ref().trim().to_string();
            if topics.is_empty() {
                let line = ctx.line(t);
                ctx.problem(
                    Some(line),
                    "topics",
                    "is empty; describe what you want to read about".into(),
                );
            }
            topics
        }
        (None, Some(f)) => topics_from_file(f, ctx, prompts_dir),
        (None, None) => String::new(),
    }
}

/// The topics read from `topics_file`, a non-empty file inside `prompts_dir`; empty on a problem.
fn topics_from_file(f: &Spanned<String>, ctx: &mut Ctx, prompts_dir: &Path) -> String {
    let line = ctx.line(f);
    let rel = PathBuf::from(f.get_ref());
    if rel.is_absolute()
        || rel
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        ctx.problem(
            Some(line),
            "topics_file",
            format!(
                "`{}` must be a path inside {}",
                f.get_ref(),
                prompts_dir.display()
            ),
        );
        return String::new();
    }
    let full = prompts_dir.join(&rel);
    match std::fs::read_to_string(&full) {
        Ok(t) if !t.trim().is_empty() => return t.trim().to_string(),
        Ok(_) => ctx.problem(
            Some(line),
            "topics_file",
            format!("{} is empty", full.display()),
        ),
        Err(e) => ctx.problem(
            Some(line),
            "topics_file",
            format!("cannot read {}: {e}", full.display()),
        ),
    }
    String::new()
}

/// A list of names (`authors`, `keywords`): trimmed, TeX made Unicode, no empty entries.
fn list(items: &[Spanned<String>], key: &str, ctx: &mut Ctx) -> Vec<String> {
    let mut out = Vec::new();
    for item in items {
        let v = item.get_ref().trim();
        if v.is_empty() {
            let line = ctx.line(item);
            ctx.problem(Some(line), key, "contains an empty entry".into());
        } else {
            out.push(crate::support::tex::to_unicode(v));
        }
    }
    out
}

/// The entry's `categories`: a non-empty list of configured categories.
fn categories(cats: &[Spanned<String>], ctx: &mut Ctx, known: &[Category]) -> Vec<Category> {
    let mut out = Vec::new();
    if cats.is_empty() {
        ctx.problem(
            None,
            "categories",
            "an empty list reads nothing: leave `categories` out for every configured category, or name some".into(),
        );
    }
    for c in cats {
        let line = ctx.line(c);
        match Category::parse(c.get_ref()) {
            Ok(cat) if known.contains(&cat) => out.push(cat),
            Ok(cat) => ctx.problem(Some(line), "categories", unconfigured(&cat, known)),
            Err(e) => ctx.problem(Some(line), "categories", e.to_string()),
        }
    }
    out
}

/// Why `cat` cannot be picked: it is not configured; the nearest configured one and the list.
fn unconfigured(cat: &Category, known: &[Category]) -> String {
    let nearest = known
        .iter()
        .map(|k| (strsim::jaro_winkler(k.as_str(), cat.as_str()), k))
        .filter(|(score, _)| *score > 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| format!("did you mean `{k}`? "))
        .unwrap_or_default();
    format!(
        "{cat} is not among the configured categories; {nearest}the configured ones: {}; or add it to [{}] categories in paperboy.toml",
        known.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", "),
        cat.source().as_str()
    )
}

/// A score threshold (`min_relevance`, `min_novelty`): 1 to 10, `default` when absent or wrong.
fn score(v: &Option<Spanned<i64>>, key: &str, default: i64, ctx: &mut Ctx) -> Score {
    match v {
        None => Score::clamped(default),
        Some(s) => Score::new(*s.get_ref()).unwrap_or_else(|e| {
            let line = ctx.line(s);
            ctx.problem(
                Some(line),
                key,
                format!("{e}; use a whole number from 1 to 10"),
            );
            Score::clamped(default)
        }),
    }
}

/// A count the entry may set (`max_papers`, `full_cards`): within `range`, the default when
/// absent or wrong (said, with its line).
fn count(
    raw: &Option<Spanned<i64>>,
    key: &'static str,
    range: std::ops::RangeInclusive<i64>,
    default: usize,
    ctx: &mut Ctx,
) -> usize {
    match raw {
        None => default,
        Some(m) if range.contains(m.get_ref()) => *m.get_ref() as usize,
        Some(m) => {
            let line = ctx.line(m);
            ctx.problem(
                Some(line),
                key,
                format!(
                    "{} is outside {}–{}",
                    m.get_ref(),
                    range.start(),
                    range.end()
                ),
            );
            default
        }
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}
