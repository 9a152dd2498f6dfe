//! What a reply can say: one command per line, case-insensitive, forgiving of punctuation.

use std::fmt;

/// A topic to remove: its number in the `topics` listing, or (part of) its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicRef {
    Number(usize),
    Text(String),
}

/// A paper a reply points at: its number in the digest ("more like 3"), or its ID ("more like
/// 2503.21419", what a card's "more like this" link writes, valid whatever the digest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaperRef {
    Number(usize),
    Id(crate::domain::PaperId),
}

impl fmt::Display for PaperRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PaperRef::Number(n) => write!(f, "{n}"),
            PaperRef::Id(id) => write!(f, "{id}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    AddTopic(String),
    RemoveTopic(TopicRef),
    ListTopics,
    SetTopics(Vec<String>),
    Follow(String),
    Unfollow(String),
    AddKeyword(String),
    RemoveKeyword(String),
    MoreLike(PaperRef),
    LessLike(PaperRef),
    Relevance(i64),
    Novelty(i64),
    Max(i64),
    /// How many papers the digest shows in full.
    Cards(i64),
    /// The TL;DR's and comments' language (a BCP 47 tag).
    Language(String),
    /// Yes to what paperboy proposed (a library sent by reply).
    Yes,
    /// "daily" (`None`), or "weekly [on friday]".
    Frequency(Option<chrono::Weekday>),
    Pause,
    Resume,
    Unsubscribe,
    Help,
    Undo,
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::AddTopic(t) => write!(f, "add topic: {t}"),
            Command::RemoveTopic(TopicRef::Number(n)) => write!(f, "remove topic: {n}"),
            Command::RemoveTopic(TopicRef::Text(t)) => write!(f, "remove topic: {t}"),
            Command::ListTopics => write!(f, "topics"),
            Command::SetTopics(lines) => write!(f, "set topics: {}", lines.join("; ")),
            Command::Follow(a) => write!(f, "follow {a}"),
            Command::Unfollow(a) => write!(f, "unfollow {a}"),
            Command::AddKeyword(k) => write!(f, "add keyword: {k}"),
            Command::RemoveKeyword(k) => write!(f, "remove keyword: {k}"),
            Command::MoreLike(n) => write!(f, "more like {n}"),
            Command::LessLike(n) => write!(f, "less like {n}"),
            Command::Relevance(n) => write!(f, "relevance {n}"),
            Command::Novelty(n) => write!(f, "novelty {n}"),
            Command::Max(n) => write!(f, "max {n}"),
            Command::Cards(n) => write!(f, "cards {n}"),
            Command::Language(l) => write!(f, "language: {l}"),
            Command::Yes => write!(f, "yes"),
            Command::Frequency(None) => write!(f, "daily"),
            Command::Frequency(Some(d)) => write!(f, "weekly on {d}"),
            Command::Pause => write!(f, "pause"),
            Command::Resume => write!(f, "resume"),
            Command::Unsubscribe => write!(f, "unsubscribe"),
            Command::Help => write!(f, "help"),
            Command::Undo => write!(f, "undo"),
        }
    }
}

/// The longest text a topic, author or keyword may have.
pub const MAX_TEXT: usize = 300;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    pub commands: Vec<Command>,
    /// Lines that were not commands (greetings, thanks, free text).
    pub other: Vec<String>,
    /// Lines that looked like commands but were wrong, with why.
    pub invalid: Vec<String>,
}

/// Parses the text a subscriber wrote (already cut above the quote).
pub fn parse(text: &str) -> Parsed {
    let mut out = Parsed::default();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let raw = lines[i].trim();
        i += 1;
        if raw.is_empty() {
            continue;
        }
        let line = clean(raw);
        let lower = line.to_lowercase();
        // "set topics:" followed by lines, up to a blank line.
        if let Some(rest) = strip_words(&lower, &line, &["set topics", "set topic"]) {
            let mut topics: Vec<String> = rest
                .split(';')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
            while i < lines.len() && !lines[i].trim().is_empty() {
                topics.push(clean(lines[i].trim()).to_string());
                i += 1;
            }
            match topics.iter().find(|t| t.chars().count() > MAX_TEXT) {
                _ if topics.is_empty() => out
                    .invalid
                    .push(format!("{raw}: give the new topics on the lines below it")),
                Some(_) => out.invalid.push(format!(
                    "{raw}: a topic may be at most {MAX_TEXT} characters"
                )),
                None => out.commands.push(Command::SetTopics(topics)),
            }
            continue;
        }
        match command(&line, &lower) {
            Some(Ok(c)) => out.commands.push(c),
            Some(Err(why)) => out.invalid.push(format!("{raw}: {why}")),
            None => out.other.push(raw.to_string()),
        }
    }
    out
}

/// Drops list bullets and trailing punctuation: "- Follow Yann LeCun." → "Follow Yann LeCun".
fn clean(line: &str) -> String {
    let mut s = line.trim();
    for bullet in ["- ", "* ", "• ", "– "] {
        if let Some(rest) = s.strip_prefix(bullet) {
            s = rest.trim();
        }
    }
    s.trim_end_matches(['.', '!', ',', ';']).trim().to_string()
}

/// If `lower` starts with one of `words` (then a space, colon or the end), the rest of `line`.
fn strip_words<'a>(lower: &str, line: &'a str, words: &[&str]) -> Option<&'a str> {
    for w in words {
        if let Some(rest) = lower.strip_prefix(w) {
            if rest.is_empty() || rest.starts_with([' ', ':', '\t']) {
                let n = line.len() - rest.len();
                return Some(line[n..].trim_start_matches([' ', ':', '\t']).trim());
            }
        }
    }
    None
}

fn text_arg(rest: &str, what: &str) -> Result<String, String> {
    let t = rest.trim().trim_matches(['"', '\'', '“', '”']).trim();
    if t.is_empty() {
        Err(format!("say which {what}"))
    } else if t.chars().count() > MAX_TEXT {
        Err(format!("a {what} may be at most {MAX_TEXT} characters"))
    } else {
        Ok(t.to_string())
    }
}

fn number(rest: &str, what: &str) -> Result<i64, String> {
    rest.trim()
        .trim_start_matches('#')
        .parse::<i64>()
        .map_err(|_| format!("{what} needs a number, like `{what} 7`"))
}

/// The command on one cleaned line (`lower` is it in lower case): `None` when it is not one,
/// `Err` with why when it looks like one but is wrong. The first kind that matches wins.
fn command(line: &str, lower: &str) -> Option<Result<Command, String>> {
    if let Some(c) = word_command(lower) {
        return Some(Ok(c));
    }
    weekly_command(line, lower)
        .or_else(|| topic_command(line, lower))
        .or_else(|| language_command(line, lower))
        .or_else(|| author_or_keyword_command(line, lower))
        .or_else(|| like_command(line, lower))
        .or_else(|| number_command(line, lower))
}

/// A command that is the whole line, like `pause` or `topics`.
fn word_command(lower: &str) -> Option<Command> {
    Some(match lower.trim() {
        "pause" | "pause please" | "stop for now" => Command::Pause,
        "resume" | "unpause" | "restart" => Command::Resume,
        "unsubscribe" | "stop" | "remove me" => Command::Unsubscribe,
        "help" | "?" | "commands" => Command::Help,
        "yes" | "yes please" | "apply" | "apply it" | "ok" | "okay" => Command::Yes,
        "daily" | "every day" => Command::Frequency(None),
        "weekly" | "once a week" => Command::Frequency(Some(chrono::Weekday::Mon)),
        "undo" | "revert" => Command::Undo,
        "topics" | "list topics" | "show topics" | "my topics" => Command::ListTopics,
        _ => return None,
    })
}

/// `weekly on <day>`.
fn weekly_command(line: &str, lower: &str) -> Option<Result<Command, String>> {
    let rest = strip_words(lower, line, &["weekly on", "weekly"])?;
    Some(match crate::domain::parse_weekday(rest.trim()) {
        Some(d) => Ok(Command::Frequency(Some(d))),
        None => Err("name the day, like `weekly on friday`".into()),
    })
}

/// `add topic: …`, or `remove topic: …` by number or text.
fn topic_command(line: &str, lower: &str) -> Option<Result<Command, String>> {
    if let Some(rest) = strip_words(lower, line, &["add topic", "add topics"]) {
        return Some(text_arg(rest, "topic").map(Command::AddTopic));
    }
    let rest = strip_words(lower, line, &["remove topic", "delete topic", "drop topic"])?;
    let r = rest.trim().trim_start_matches('#');
    Some(match r.parse::<usize>() {
        Ok(0) => Err("topics are numbered from 1".into()),
        Ok(n) => Ok(Command::RemoveTopic(TopicRef::Number(n))),
        Err(_) => text_arg(rest, "topic").map(|t| Command::RemoveTopic(TopicRef::Text(t))),
    })
}

/// `language: <BCP 47 tag>`.
fn language_command(line: &str, lower: &str) -> Option<Result<Command, String>> {
    let rest = strip_words(lower, line, &["language", "lang"])?;
    let tag = rest.trim();
    Some(match crate::domain::Language::parse(tag) {
        Ok(l) => Ok(Command::Language(l.tag().to_string())),
        Err(e) => Err(e.to_string()),
    })
}

/// `follow …`, `unfollow …`, `add keyword: …`, `remove keyword: …`.
fn author_or_keyword_command(line: &str, lower: &str) -> Option<Result<Command, String>> {
    type Make = fn(String) -> Command;
    for (words, what, make) in [
        (&["unfollow"][..], "author", Command::Unfollow as Make),
        (&["follow"][..], "author", Command::Follow as Make),
        (
            &["add keyword", "add keywords"][..],
            "keyword",
            Command::AddKeyword as Make,
        ),
        (
            &["remove keyword", "delete keyword"][..],
            "keyword",
            Command::RemoveKeyword as Make,
        ),
    ] {
        if let Some(rest) = strip_words(lower, line, words) {
            return Some(text_arg(rest, what).map(make));
        }
    }
    None
}

/// `more like <n>` or `less like <n>`: a paper's number in the digest, or its arXiv ID (or
/// bioRxiv/medRxiv DOI).
fn like_command(line: &str, lower: &str) -> Option<Result<Command, String>> {
    for (words, more) in [
        (&["more like this", "more like"][..], true),
        (&["less like this", "less like", "fewer like"][..], false),
    ] {
        if let Some(rest) = strip_words(lower, line, words) {
            let rest = rest.trim().trim_end_matches(['.', '!']);
            let r = rest.trim_start_matches(['#', 'n', 'o', '.', ':']).trim();
            let target = match r.parse::<usize>() {
                Ok(n) if n >= 1 => Some(PaperRef::Number(n)),
                _ => crate::domain::PaperId::parse(rest.trim_start_matches([':', ' ']))
                    .ok()
                    .map(PaperRef::Id),
            };
            return Some(match target {
                Some(t) if more => Ok(Command::MoreLike(t)),
                Some(t) => Ok(Command::LessLike(t)),
                None => Err(
                    "give the paper's number in the digest or its arXiv ID, like `more like 3`"
                        .into(),
                ),
            });
        }
    }
    None
}

/// `relevance <n>`, `novelty <n>`, `max <n>` or `cards <n>`.
fn number_command(line: &str, lower: &str) -> Option<Result<Command, String>> {
    for (words, make) in [
        (
            &["relevance", "min relevance", "min_relevance"][..],
            Command::Relevance as fn(i64) -> Command,
        ),
        (
            &["novelty", "min novelty", "min_novelty"][..],
            Command::Novelty as fn(i64) -> Command,
        ),
        (
            &["max", "max papers", "max_papers"][..],
            Command::Max as fn(i64) -> Command,
        ),
        (
            &["cards", "full cards", "full_cards", "in full"][..],
            Command::Cards as fn(i64) -> Command,
        ),
    ] {
        if let Some(rest) = strip_words(lower, line, words) {
            return Some(number(rest, words[0]).map(make));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frequency_by_reply() {
        let p = parse("weekly on Friday\ndaily\nweekly");
        assert_eq!(
            p.commands,
            vec![
                Command::Frequency(Some(chrono::Weekday::Fri)),
                Command::Frequency(None),
                Command::Frequency(Some(chrono::Weekday::Mon)),
            ]
        );
    }

    #[test]
    fn language_by_reply() {
        let p = parse("language: fr\nLanguage pt-BR\nlanguage: klingon");
        assert_eq!(
            p.commands,
            vec![
                Command::Language("fr".into()),
                Command::Language("pt-BR".into())
            ]
        );
        assert!(
            p.invalid[0].contains("not a language tag"),
            "{:?}",
            p.invalid
        );
    }

    #[test]
    fn every_command() {
        let p = parse(
            "Add topic: sparse attention\nremove topic: 2\nREMOVE TOPIC: mixture of experts\ntopics\nfollow Yann LeCun.\n\
             Unfollow: Björn Schuller\nadd keyword: MoE\nremove keyword: pruning\nmore like 3\nless like #5\n\
             relevance 8\nnovelty: 6\nmax 20\npause\nresume\nhelp\nundo\nunsubscribe",
        );
        assert!(p.other.is_empty() && p.invalid.is_empty(), "{p:?}");
        assert_eq!(
            p.commands,
            vec![
                Command::AddTopic("sparse attention".into()),
                Command::RemoveTopic(TopicRef::Number(2)),
                Command::RemoveTopic(TopicRef::Text("mixture of experts".into())),
                Command::ListTopics,
                Command::Follow("Yann LeCun".into()),
                Command::Unfollow("Björn Schuller".into()),
                Command::AddKeyword("MoE".into()),
                Command::RemoveKeyword("pruning".into()),
                Command::MoreLike(PaperRef::Number(3)),
                Command::LessLike(PaperRef::Number(5)),
                Command::Relevance(8),
                Command::Novelty(6),
                Command::Max(20),
                Command::Pause,
                Command::Resume,
                Command::Help,
                Command::Undo,
                Command::Unsubscribe,
            ]
        );
    }

    #[test]
    fn set_topics_takes_the_following_lines() {
        let p =
            parse("Hi!\nset topics:\n- Sparse attention\n- KV cache compression\n\nThanks, Ada");
        assert_eq!(
            p.commands,
            vec![Command::SetTopics(vec![
                "Sparse attention".into(),
                "KV cache compression".into()
            ])]
        );
        assert_eq!(p.other, vec!["Hi!", "Thanks, Ada"]);
        let inline = parse("set topics: a; b");
        assert_eq!(
            inline.commands,
            vec![Command::SetTopics(vec!["a".into(), "b".into()])]
        );
    }

    #[test]
    fn a_cards_link_names_the_paper_by_id() {
        let p = parse("more like 2503.21419\nLess like this: 2503.21073");
        assert_eq!(
            p.commands,
            vec![
                Command::MoreLike(PaperRef::Id(
                    crate::domain::PaperId::parse("2503.21419").unwrap()
                )),
                Command::LessLike(PaperRef::Id(
                    crate::domain::PaperId::parse("2503.21073").unwrap()
                )),
            ]
        );
        assert_eq!(p.commands[0].to_string(), "more like 2503.21419");
    }

    #[test]
    fn wrong_commands_say_why_and_free_text_is_kept() {
        let p = parse("relevance high\nmore like it\nadd topic:\nfollowing up on yesterday, I'd like fewer RL papers");
        assert_eq!(p.invalid.len(), 3, "{p:?}");
        assert!(p.invalid[0].contains("needs a number"));
        assert!(p.commands.is_empty());
        assert_eq!(
            p.other,
            vec!["following up on yesterday, I'd like fewer RL papers"]
        );
        assert!(parse(&format!("add topic: {}", "x".repeat(400))).invalid[0].contains("at most"));
    }

    #[test]
    fn text_is_data() {
        let evil = r#"add topic: "quoted" [[subscriber]] email = "x" <b>html</b>"#;
        assert_eq!(
            parse(evil).commands,
            vec![Command::AddTopic(
                r#"quoted" [[subscriber]] email = "x" <b>html</b>"#.into()
            )]
        );
    }
}
