//! Reading the model's answers. The contract (from the seeds' prompt, extended for calls that
//! serve several readers) is one JSON object per line: verdicts, a line per paper,
//! `{"ARXIVID": …, "SCORES": {"R3": [relevance, novelty, "comment"], "R5": [relevance, novelty]}}`
//! (the seeds' line per pair, `{"ARXIVID", "READER", "RELEVANCE", "NOVELTY", "COMMENT"}`, is read
//! too), and triage lines
//! `{"ARXIVID": …, "READERS": ["R1", "R3"]}`; the same objects in a JSON array or a fenced block
//! are accepted too. Everything is checked: the ID must belong to the call (a comment can never
//! land on another paper), the reader must be one the paper was asked for, scores are whole
//! numbers 1–10, and nothing counts twice.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::domain::{PaperId, Score, Verdict};

/// A verdict for one paper and one reader (by the call's label).
pub type LabelledVerdict = (PaperId, String, Verdict);

#[derive(Debug, Default)]
pub struct ParsedVerdicts {
    pub verdicts: Vec<LabelledVerdict>,
    /// English TL;DRs written inline (`"TLDR"` on a paper's line), the first per paper of the
    /// call.
    pub tldrs: Vec<(PaperId, String)>,
    /// What was discarded and why (logged; counted in the run).
    pub problems: Vec<String>,
}

#[derive(Debug, Default)]
pub struct ParsedTriage {
    /// Per paper answered, the readers (labels of the call) to keep it for.
    pub kept: Vec<(PaperId, Vec<String>)>,
    pub problems: Vec<String>,
}

/// Verdict lines, checked against what was asked: paper → the labels it was asked for. A line
/// without READER is accepted when its paper was asked for one reader only.
pub fn parse_verdicts(text: &str, asked: &HashMap<PaperId, Vec<String>>) -> ParsedVerdicts {
    let (objects, mut problems) = objects(text);
    let mut seen = HashSet::new();
    let mut verdicts = Vec::new();
    let mut tldrs: Vec<(PaperId, String)> = Vec::new();
    for obj in &objects {
        let Some(map) = obj.as_object() else { continue };
        let (Some(Value::String(t)), Some(Value::Object(_))) =
            (field(map, "TLDR"), field(map, "SCORES"))
        else {
            continue;
        };
        match id_of(map) {
            Ok(id)
                if asked.contains_key(&id)
                    && !t.trim().is_empty()
                    && !tldrs.iter().any(|(i, _)| *i == id) =>
            {
                tldrs.push((id, tldr_of(t)));
            }
            _ => {}
        }
    }
    for (obj, entry) in objects
        .iter()
        .flat_map(|o| verdicts_of(o).into_iter().map(move |e| (o, e)))
    {
        let checked = entry.and_then(|(id, label, v)| {
            let Some(labels) = asked.get(&id) else {
                return Err(format!(
                    "verdict for {id}, which is not in this call: discarded"
                ));
            };
            let label = match label {
                Some(l) if labels.contains(&l) => l,
                Some(l) => {
                    return Err(format!(
                        "verdict for {id} names reader {l}, who was not asked about it: discarded"
                    ))
                }
                None if labels.len() == 1 => labels[0].clone(),
                None => return Err(format!("verdict for {id} names no READER")),
            };
            Ok((id, label, v))
        });
        match checked {
            Err(why) => problems.push(format!("{why}: {}", shorten(&obj.to_string()))),
            Ok((id, label, v)) => {
                if seen.insert((id.clone(), label.clone())) {
                    verdicts.push((id, label, v));
                } else {
                    problems.push(format!(
                        "second verdict for {id} and {label}: discarded, the first one stands"
                    ));
                }
            }
        }
    }
    ParsedVerdicts {
        verdicts,
        tldrs,
        problems,
    }
}

/// Triage lines for `papers`, naming readers among `labels`.
pub fn parse_triage(text: &str, papers: &[PaperId], labels: &[String]) -> ParsedTriage {
    let (objects, mut problems) = objects(text);
    let allowed: HashSet<&PaperId> = papers.iter().collect();
    let mut seen = HashSet::new();
    let mut kept = Vec::new();
    for obj in objects {
        let line = (|| -> Result<(PaperId, Vec<String>), String> {
            let map = obj.as_object().ok_or("not a JSON object")?;
            let id = id_of(map)?;
            if !allowed.contains(&id) {
                return Err(format!("triage line for {id}, which is not in this call"));
            }
            let readers = match field(map, "READERS") {
                Some(Value::Array(items)) => items,
                Some(Value::Null) => return Ok((id, Vec::new())),
                _ => return Err(format!("triage line for {id} has no READERS list")),
            };
            let mut out = Vec::new();
            for r in readers {
                let label = r
                    .as_str()
                    .map(normal_label)
                    .ok_or_else(|| format!("READERS of {id} holds a non-label {r}"))?;
                if !labels.contains(&label) {
                    return Err(format!(
                        "READERS of {id} names {label}, who is not in this call"
                    ));
                }
                if !out.contains(&label) {
                    out.push(label);
                }
            }
            Ok((id, out))
        })();
        match line {
            Err(why) => problems.push(format!("{why}: {}", shorten(&obj.to_string()))),
            Ok((id, readers)) => {
                if seen.insert(id.clone()) {
                    kept.push((id, readers));
                } else {
                    problems.push(format!(
                        "second triage line for {id}: discarded, the first one stands"
                    ));
                }
            }
        }
    }
    ParsedTriage { kept, problems }
}

/// TL;DR lines `{"ARXIVID": …, "TLDR": …}` for `papers`: (id, text), the first line per paper
/// standing; lines for papers not in the call, or without text, are discarded.
pub fn parse_tldrs(text: &str, papers: &[PaperId]) -> (Vec<(PaperId, String)>, Vec<String>) {
    let (objects, mut problems) = objects(text);
    let allowed: HashSet<&PaperId> = papers.iter().collect();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for obj in objects {
        let line = (|| -> Result<(PaperId, String), String> {
            let map = obj.as_object().ok_or("not a JSON object")?;
            let id = id_of(map)?;
            if !allowed.contains(&id) {
                return Err(format!("TL;DR for {id}, which is not in this call"));
            }
            match field(map, "TLDR") {
                Some(Value::String(t)) if !t.trim().is_empty() => Ok((id, tldr_of(t))),
                _ => Err(format!("TL;DR line for {id} has no text")),
            }
        })();
        match line {
            Err(why) => problems.push(format!("{why}: {}", shorten(&obj.to_string()))),
            Ok((id, t)) if seen.insert(id.clone()) => out.push((id, t)),
            Ok((id, _)) => problems.push(format!("second TL;DR for {id}: discarded")),
        }
    }
    (out, problems)
}

/// The JSON objects of an answer: JSONL, a JSON array, or either inside a fenced block.
fn objects(text: &str) -> (Vec<Value>, Vec<String>) {
    let body: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("```"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut objects: Vec<Value> = Vec::new();
    let mut problems = Vec::new();
    match serde_json::from_str::<Value>(body.trim()) {
        Ok(Value::Array(items)) => objects.extend(items),
        Ok(v @ Value::Object(_)) => objects.push(v),
        _ => {
            for (n, line) in body.lines().enumerate() {
                let l = line.trim().trim_end_matches(',');
                if l.is_empty() || l == "[" || l == "]" {
                    continue;
                }
                match serde_json::from_str::<Value>(l) {
                    Ok(v) => objects.push(v),
                    Err(_) => {
                        problems.push(format!("line {}: not a JSON object: {}", n + 1, shorten(l)))
                    }
                }
            }
        }
    }
    (objects, problems)
}

fn field<'a>(obj: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn id_of(obj: &serde_json::Map<String, Value>) -> Result<PaperId, String> {
    match field(obj, "ARXIVID")
        .or_else(|| field(obj, "ARXIV_ID"))
        .or_else(|| field(obj, "ID"))
    {
        Some(Value::String(s)) => PaperId::parse(s).map_err(|e| e.to_string()),
        _ => Err("no ARXIVID".into()),
    }
}

/// `r3`, ` R3 ` → `R3`.
fn normal_label(s: &str) -> String {
    s.trim().to_ascii_uppercase()
}

type Entry = Result<(PaperId, Option<String>, Verdict), String>;

/// The verdicts of one answer object: a paper's line with `SCORES` (reader → `[RELEVANCE,
/// NOVELTY]` or `[RELEVANCE, NOVELTY, COMMENT]`), or one verdict per line (`READER`,
/// `RELEVANCE`, `NOVELTY`, `COMMENT`, the seeds' form).
fn verdicts_of(v: &Value) -> Vec<Entry> {
    let Some(obj) = v.as_object() else {
        return vec![Err("not a JSON object".into())];
    };
    match field(obj, "SCORES") {
        None => vec![verdict(v)],
        Some(Value::Object(scores)) => match id_of(obj) {
            Err(e) => vec![Err(e)],
            Ok(id) => scores
                .iter()
                .map(|(label, s)| compact(&id, label, s))
                .collect(),
        },
        Some(other) => vec![Err(format!("SCORES is not a map of readers: {other}"))],
    }
}

/// A score `name` (a whole number 1–10 — `9`, `9.0`, `"9"` and `"9.0"` alike) for `whose`
/// verdict.
fn score_of(value: Option<&Value>, name: &str, whose: &str) -> Result<Score, String> {
    let whole = |x: f64| (x.fract() == 0.0 && x.abs() < 1e6).then_some(x as i64);
    let n = match value {
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().and_then(whole))
            .ok_or_else(|| format!("{name} {n} is not a whole number"))?,
        Some(Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(whole)
            .ok_or_else(|| format!("{name} `{s}` is not a whole number"))?,
        _ => return Err(format!("no {name} for {whose}")),
    };
    Score::new(n).map_err(|e| format!("{name} for {whose}: {e}"))
}

/// A comment's length at most, in characters: one sentence is asked for, and one paper's
/// comment must not push every other paper out of the mail.
pub const MAX_COMMENT: usize = 600;
/// A TL;DR's length at most, in words (25 are asked for)...
pub const MAX_TLDR_WORDS: usize = 60;
/// ...and in characters: one "word" of 100 KB is one word.
pub const MAX_TLDR_CHARS: usize = 480;

/// A comment: text cleaned and trimmed, cut at [`MAX_COMMENT`]; none for null or missing,
/// anything else as written.
fn comment_of(value: Option<&Value>) -> String {
    let text = match value {
        Some(Value::String(c)) => c.clone(),
        Some(Value::Null) | None => return String::new(),
        Some(other) => other.to_string(),
    };
    let text = crate::support::text::clean(&text).trim().to_string();
    match crate::support::text::shortened(&text, MAX_COMMENT) {
        Some(head) => format!("{head} …"),
        None => text,
    }
}

/// A TL;DR as kept: cleaned, trimmed, at most [`MAX_TLDR_WORDS`] words and
/// [`MAX_TLDR_CHARS`] characters.
fn tldr_of(text: &str) -> String {
    let text = crate::support::text::clean(text);
    let words: Vec<&str> = text.split_whitespace().collect();
    let joined = words[..words.len().min(MAX_TLDR_WORDS)].join(" ");
    let cut = words.len() > MAX_TLDR_WORDS;
    match crate::support::text::shortened(&joined, MAX_TLDR_CHARS) {
        Some(head) => format!("{head} …"),
        None if cut => format!("{joined} …"),
        None => joined,
    }
}

/// One reader's `[RELEVANCE, NOVELTY(, COMMENT)]` for paper `id`.
fn compact(id: &PaperId, label: &str, scores: &Value) -> Entry {
    let label = normal_label(label);
    let items = scores
        .as_array()
        .ok_or_else(|| format!("SCORES of {id} for {label} is not a list"))?;
    let whose = format!("{id} and {label}");
    let relevance = score_of(items.first(), "RELEVANCE", &whose)?;
    let novelty = score_of(items.get(1), "NOVELTY", &whose)?;
    let comment = comment_of(items.get(2));
    Ok((
        id.clone(),
        Some(label),
        Verdict {
            relevance,
            novelty: Some(novelty),
            comment,
            tldr: None,
        },
    ))
}

fn verdict(v: &Value) -> Entry {
    let obj = v.as_object().ok_or("not a JSON object")?;
    let id = id_of(obj)?;
    let label = match field(obj, "READER") {
        Some(Value::String(s)) => Some(normal_label(s)),
        Some(Value::Null) | None => None,
        Some(other) => return Err(format!("READER of {id} is not a label: {other}")),
    };
    let whose = id.to_string();
    let relevance = score_of(field(obj, "RELEVANCE"), "RELEVANCE", &whose)?;
    let novelty = score_of(field(obj, "NOVELTY"), "NOVELTY", &whose)?;
    let comment = comment_of(field(obj, "COMMENT"));
    let tldr = match field(obj, "TLDR") {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(tldr_of(s)),
        _ => None,
    };
    Ok((
        id,
        label,
        Verdict {
            relevance,
            novelty: Some(novelty),
            comment,
            tldr,
        },
    ))
}

fn shorten(s: &str) -> String {
    if s.chars().count() > 120 {
        format!("{}…", s.chars().take(120).collect::<String>())
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tldr_is_cut_by_characters_as_well_as_words() {
        let one_word = "x".repeat(100_000);
        let kept = tldr_of(&one_word);
        assert!(kept.chars().count() <= MAX_TLDR_CHARS + 2, "{}", kept.len());
        assert!(kept.ends_with(" …"));
        let short = "Sparse attention, cheaper.";
        assert_eq!(tldr_of(short), short);
        let many = "word ".repeat(100);
        assert_eq!(
            tldr_of(&many).split_whitespace().count(),
            MAX_TLDR_WORDS + 1
        );
    }

    #[test]
    fn a_papers_line_scores_each_reader_and_only_those_asked() {
        let id = PaperId::parse("2503.00001").unwrap();
        let asked: HashMap<PaperId, Vec<String>> =
            [(id.clone(), vec!["R1".to_string(), "R2".to_string()])].into();
        let parsed = parse_verdicts(
            r#"{"ARXIVID": "2503.00001", "SCORES": {"R1": [9, 7, "Matches the MoE criterion."], "r2": [3, 4], "R3": [10, 10, "Not asked."]}}
{"ARXIVID": "2503.00001", "SCORES": {"R1": [1, 1]}}
{"ARXIVID": "2503.00001", "SCORES": {"R2": [11, 4]}}"#,
            &asked,
        );
        let got: Vec<(String, u8, String)> = parsed
            .verdicts
            .iter()
            .map(|(_, l, v)| (l.clone(), v.relevance.get(), v.comment.clone()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "R1".to_string(),
                    9,
                    "Matches the MoE criterion.".to_string()
                ),
                ("R2".to_string(), 3, String::new())
            ]
        );
        // R3 was not asked; the second R1 and an R2 of 11 are discarded.
        assert_eq!(parsed.problems.len(), 3, "{:?}", parsed.problems);
    }

    #[test]
    fn an_inline_tldr_belongs_to_a_paper_of_the_call_and_counts_once() {
        let id = PaperId::parse("2503.00001").unwrap();
        let asked: HashMap<PaperId, Vec<String>> = [(id.clone(), vec!["R1".to_string()])].into();
        let parsed = parse_verdicts(
            r#"{"ARXIVID": "2503.00001", "TLDR": " Sparse experts at 4 bits. ", "SCORES": {"R1": [9, 7, "Matches."]}}
{"ARXIVID": "2503.00001", "TLDR": "A second one.", "SCORES": {}}
{"ARXIVID": "2503.99999", "TLDR": "Wrong paper.", "SCORES": {"R1": [9, 7]}}"#,
            &asked,
        );
        assert_eq!(
            parsed.tldrs,
            [(id, "Sparse experts at 4 bits.".to_string())]
        );
        assert_eq!(parsed.verdicts.len(), 1);
    }

    #[test]
    fn tldrs_belong_to_the_call_and_count_once() {
        let ids = vec![PaperId::parse("2503.00001").unwrap()];
        let (got, problems) = parse_tldrs(
            "{\"ARXIVID\": \"2503.00001\", \"TLDR\": \"It works.\"}\n{\"ARXIVID\": \"2503.00001\", \"TLDR\": \"Again.\"}\n{\"ARXIVID\": \"2503.99999\", \"TLDR\": \"Wrong paper.\"}\n{\"ARXIVID\": \"2503.00001\"}",
            &ids,
        );
        assert_eq!(got, vec![(ids[0].clone(), "It works.".to_string())]);
        assert_eq!(problems.len(), 3, "{problems:?}");
    }

    fn id(s: &str) -> PaperId {
        PaperId::parse(s).unwrap()
    }

    /// Every paper asked for the same readers.
    fn asked(papers: &[&str], labels: &[&str]) -> HashMap<PaperId, Vec<String>> {
        papers
            .iter()
            .map(|p| (id(p), labels.iter().map(|l| l.to_string()).collect()))
            .collect()
    }

    #[test]
    fn jsonl_as_the_contract_says() {
        let r = parse_verdicts(
            r#"{"ARXIVID": "2503.21135", "READER": "R1", "COMMENT": "MoE quantization.", "RELEVANCE": 10, "NOVELTY": 8}
{"ARXIVID": "arXiv:2503.21536v1", "READER": "r2", "COMMENT": "RBMs", "RELEVANCE": "9", "NOVELTY": 9}
{"ARXIVID": "2503.21536", "READER": "R1", "COMMENT": "", "RELEVANCE": 2, "NOVELTY": 9}"#,
            &asked(&["2503.21135", "2503.21536"], &["R1", "R2"]),
        );
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert_eq!(r.verdicts.len(), 3);
        assert_eq!(r.verdicts[0].2.relevance.get(), 10);
        assert_eq!(r.verdicts[1].0.as_str(), "2503.21536");
        assert_eq!(r.verdicts[1].1, "R2");
        assert_eq!(r.verdicts[1].2.comment, "RBMs");
        assert_eq!(r.verdicts[2].2.comment, "", "no comment below the bar");
    }

    #[test]
    fn a_line_without_reader_counts_only_where_one_reader_was_asked() {
        let line = r#"{"ARXIVID": "2503.21135", "COMMENT": "a", "RELEVANCE": 7, "NOVELTY": 6}"#;
        let one = parse_verdicts(line, &asked(&["2503.21135"], &["R4"]));
        assert_eq!(one.verdicts[0].1, "R4");
        let two = parse_verdicts(line, &asked(&["2503.21135"], &["R1", "R4"]));
        assert!(two.verdicts.is_empty());
        assert!(
            two.problems[0].contains("names no READER"),
            "{:?}",
            two.problems
        );
    }

    #[test]
    fn arrays_and_fenced_blocks() {
        let batch = asked(&["2503.21135", "2503.21536"], &["R1"]);
        let array = r#"```json
[
  {"arxivid": "2503.21135", "reader": "R1", "comment": "a", "relevance": 7, "novelty": 6},
  {"arxivid": "2503.21536", "reader": "R1", "comment": "b", "relevance": 3, "novelty": 2}
]
```"#;
        let r = parse_verdicts(array, &batch);
        assert_eq!(r.verdicts.len(), 2, "{:?}", r.problems);
        let fenced = "Here you go:\n```\n{\"ARXIVID\": \"2503.21135\", \"READER\": \"R1\", \"COMMENT\": \"a\", \"RELEVANCE\": 7, \"NOVELTY\": 6}\n```";
        let r = parse_verdicts(fenced, &batch);
        assert_eq!(r.verdicts.len(), 1);
        assert_eq!(r.problems.len(), 1, "the prose line is reported");
    }

    #[test]
    fn a_verdict_for_another_paper_or_reader_never_lands() {
        let mut asked = asked(&["2503.21135"], &["R1"]);
        asked.insert(id("2503.21536"), vec!["R2".into()]);
        let r = parse_verdicts(
            r#"{"ARXIVID": "2503.99999", "READER": "R1", "COMMENT": "written for another paper", "RELEVANCE": 9, "NOVELTY": 9}
{"ARXIVID": "2503.21135", "READER": "R2", "COMMENT": "R2 was not asked about this one", "RELEVANCE": 9, "NOVELTY": 9}
{"ARXIVID": "2503.21536", "READER": "R7", "COMMENT": "no such reader in the call", "RELEVANCE": 9, "NOVELTY": 9}
{"ARXIVID": "2503.21135", "READER": "R1", "COMMENT": "right one", "RELEVANCE": 8, "NOVELTY": 7}"#,
            &asked,
        );
        assert_eq!(r.verdicts.len(), 1);
        assert_eq!(r.verdicts[0].2.comment, "right one");
        assert!(r.problems[0].contains("2503.99999") && r.problems[0].contains("not in this call"));
        assert!(r.problems[1].contains("reader R2, who was not asked"));
        assert!(r.problems[2].contains("reader R7"));
    }

    #[test]
    fn bad_scores_garbage_and_duplicates_are_rejected() {
        let r = parse_verdicts(
            r#"{"ARXIVID": "2503.21135", "READER": "R1", "COMMENT": "x", "RELEVANCE": 11, "NOVELTY": 5}
{"ARXIVID": "2503.21536", "READER": "R1", "COMMENT": "x", "RELEVANCE": 7.5, "NOVELTY": 5}
{"ARXIVID": "2503.21720", "READER": "R1", "COMMENT": "x", "RELEVANCE": 7
I think these papers are great
{"ARXIVID": "2503.21419", "READER": "R1", "COMMENT": "first", "RELEVANCE": 6, "NOVELTY": 5}
{"ARXIVID": "2503.21419", "READER": "R1", "COMMENT": "second", "RELEVANCE": 9, "NOVELTY": 9}
{"ARXIVID": "2503.21073", "READER": "R1", "COMMENT": "no novelty", "RELEVANCE": 9}"#,
            &asked(
                &[
                    "2503.21135",
                    "2503.21536",
                    "2503.21720",
                    "2503.21419",
                    "2503.21073",
                ],
                &["R1"],
            ),
        );
        assert_eq!(r.verdicts.len(), 1);
        assert_eq!(r.verdicts[0].2.comment, "first");
        assert_eq!(r.problems.len(), 6, "{:#?}", r.problems);
    }

    #[test]
    fn triage_lines_name_readers_of_the_call() {
        let papers = [id("2503.21135"), id("2503.21536"), id("2503.21720")];
        let labels = vec!["R1".to_string(), "R2".to_string()];
        let r = parse_triage(
            r#"{"ARXIVID": "2503.21135", "READERS": ["R1", "r2", "R1"]}
{"ARXIVID": "2503.21536", "READERS": []}
{"ARXIVID": "2503.21536", "READERS": ["R1"]}
{"ARXIVID": "2503.21720", "READERS": ["R9"]}
{"ARXIVID": "2503.99999", "READERS": ["R1"]}
{"ARXIVID": "2503.21720"}"#,
            &papers,
            &labels,
        );
        assert_eq!(
            r.kept,
            vec![
                (papers[0].clone(), vec!["R1".to_string(), "R2".to_string()]),
                (papers[1].clone(), vec![]),
            ]
        );
        assert_eq!(r.problems.len(), 4, "{:#?}", r.problems);
        assert!(r.problems[0].contains("second triage line"));
        assert!(r.problems[1].contains("R9, who is not in this call"));
        assert!(r.problems[2].contains("not in this call"));
        assert!(r.problems[3].contains("no READERS list"));
    }
}
