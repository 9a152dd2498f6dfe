//! Reading the model's answer. The contract (from the seeds' prompt) is one JSON object per line,
//! `{"ARXIVID": ..., "COMMENT": ..., "RELEVANCE": n, "NOVELTY": n}`; the same objects in a JSON
//! array or a fenced block are accepted too. Every verdict is checked: its ID must belong to the
//! batch (a comment can never land on another paper), scores are integers 1–10, one per paper.

use std::collections::HashSet;

use serde_json::Value;

use crate::domain::{ArxivId, Score, Verdict};

#[derive(Debug, Default)]
pub struct ParsedReply {
    pub verdicts: Vec<(ArxivId, Verdict)>,
    /// What was discarded and why (logged; counted in the run).
    pub problems: Vec<String>,
}

pub fn parse(text: &str, batch: &[ArxivId]) -> ParsedReply {
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

    let allowed: HashSet<&ArxivId> = batch.iter().collect();
    let mut seen = HashSet::new();
    let mut verdicts = Vec::new();
    for obj in objects {
        match verdict(&obj) {
            Err(why) => problems.push(format!("{why}: {}", shorten(&obj.to_string()))),
            Ok((id, v)) => {
                if !allowed.contains(&id) {
                    problems.push(format!(
                        "verdict for {id}, which is not in this batch: discarded"
                    ));
                } else if !seen.insert(id.clone()) {
                    problems.push(format!(
                        "second verdict for {id}: discarded, the first one stands"
                    ));
                } else {
                    verdicts.push((id, v));
                }
            }
        }
    }
    ParsedReply { verdicts, problems }
}

fn verdict(v: &Value) -> Result<(ArxivId, Verdict), String> {
    let obj = v.as_object().ok_or("not a JSON object")?;
    let field = |name: &str| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    let id = match field("ARXIVID")
        .or_else(|| field("ARXIV_ID"))
        .or_else(|| field("ID"))
    {
        Some(Value::String(s)) => ArxivId::parse(s).map_err(|e| e.to_string())?,
        _ => return Err("no ARXIVID".into()),
    };
    let score = |name: &str| -> Result<Score, String> {
        let n = match field(name) {
            Some(Value::Number(n)) => n
                .as_i64()
                .ok_or_else(|| format!("{name} {n} is not a whole number"))?,
            Some(Value::String(s)) => s
                .trim()
                .parse::<i64>()
                .map_err(|_| format!("{name} `{s}` is not a whole number"))?,
            _ => return Err(format!("no {name} for {id}")),
        };
        Score::new(n).map_err(|e| format!("{name} for {id}: {e}"))
    };
    let relevance = score("RELEVANCE")?;
    let novelty = score("NOVELTY")?;
    let comment = match field("COMMENT") {
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    Ok((
        id,
        Verdict {
            relevance,
            novelty: Some(novelty),
            comment,
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

    fn ids(list: &[&str]) -> Vec<ArxivId> {
        list.iter().map(|s| ArxivId::parse(s).unwrap()).collect()
    }

    #[test]
    fn jsonl_as_the_contract_says() {
        let r = parse(
            r#"{"ARXIVID": "2503.21135", "COMMENT": "MoE quantization.", "RELEVANCE": 10, "NOVELTY": 8}
{"ARXIVID": "arXiv:2503.21536v1", "COMMENT": "RBMs", "RELEVANCE": "9", "NOVELTY": 9}"#,
            &ids(&["2503.21135", "2503.21536"]),
        );
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert_eq!(r.verdicts.len(), 2);
        assert_eq!(r.verdicts[0].1.relevance.get(), 10);
        assert_eq!(r.verdicts[1].0.as_str(), "2503.21536");
        assert_eq!(r.verdicts[1].1.comment, "RBMs");
    }

    #[test]
    fn arrays_and_fenced_blocks() {
        let batch = ids(&["2503.21135", "2503.21536"]);
        let array = r#"```json
[
  {"arxivid": "2503.21135", "comment": "a", "relevance": 7, "novelty": 6},
  {"arxivid": "2503.21536", "comment": "b", "relevance": 3, "novelty": 2}
]
```"#;
        let r = parse(array, &batch);
        assert_eq!(r.verdicts.len(), 2, "{:?}", r.problems);
        let fenced = "Here you go:\n```\n{\"ARXIVID\": \"2503.21135\", \"COMMENT\": \"a\", \"RELEVANCE\": 7, \"NOVELTY\": 6}\n```";
        let r = parse(fenced, &batch);
        assert_eq!(r.verdicts.len(), 1);
        assert_eq!(r.problems.len(), 1, "the prose line is reported");
    }

    #[test]
    fn a_verdict_for_another_paper_never_lands() {
        let r = parse(
            r#"{"ARXIVID": "2503.99999", "COMMENT": "written for another paper", "RELEVANCE": 9, "NOVELTY": 9}
{"ARXIVID": "2503.21135", "COMMENT": "right one", "RELEVANCE": 8, "NOVELTY": 7}"#,
            &ids(&["2503.21135"]),
        );
        assert_eq!(r.verdicts.len(), 1);
        assert_eq!(r.verdicts[0].1.comment, "right one");
        assert!(
            r.problems[0].contains("2503.99999") && r.problems[0].contains("not in this batch")
        );
    }

    #[test]
    fn bad_scores_garbage_and_duplicates_are_rejected() {
        let r = parse(
            r#"{"ARXIVID": "2503.21135", "COMMENT": "x", "RELEVANCE": 11, "NOVELTY": 5}
{"ARXIVID": "2503.21536", "COMMENT": "x", "RELEVANCE": 7.5, "NOVELTY": 5}
{"ARXIVID": "2503.21720", "COMMENT": "x", "RELEVANCE": 7
I think these papers are great
{"ARXIVID": "2503.21419", "COMMENT": "first", "RELEVANCE": 6, "NOVELTY": 5}
{"ARXIVID": "2503.21419", "COMMENT": "second", "RELEVANCE": 9, "NOVELTY": 9}
{"ARXIVID": "2503.21073", "COMMENT": "no novelty", "RELEVANCE": 9}"#,
            &ids(&[
                "2503.21135",
                "2503.21536",
                "2503.21720",
                "2503.21419",
                "2503.21073",
            ]),
        );
        assert_eq!(r.verdicts.len(), 1);
        assert_eq!(r.verdicts[0].1.comment, "first");
        assert_eq!(r.problems.len(), 6, "{:#?}", r.problems);
    }
}
