//! The bioRxiv/medRxiv API's answers (`/details/{server}/{from}/{to}/{cursor}`), read as they
//! come: counts as strings or numbers, one record per version, HTML in titles and abstracts,
//! authors as `Surname, A. B.; …`.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use crate::domain::{AnnounceType, Category, Doi, Paper, PaperId, Source};

/// One page of an answer.
#[derive(Debug)]
pub struct Page {
    /// Records in this page (`messages[0].count`).
    pub count: usize,
    /// Records in the whole window (`messages[0].total`).
    pub total: usize,
    pub records: Vec<Record>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PageError {
    #[error("the answer is not JSON ({0})")]
    NotJson(String),
    #[error("the answer has no `messages` status")]
    NoStatus,
    #[error("the server answered status \"{0}\"")]
    Status(String),
    #[error("`{key}` is `{value}`, not a number")]
    Count { key: &'static str, value: String },
}

/// One version of one preprint, as listed.
#[derive(Debug, Clone, Deserialize)]
pub struct Record {
    pub doi: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub authors: String,
    #[serde(default, rename = "abstract")]
    pub abstract_text: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub version: Value,
    #[serde(default)]
    pub published: Option<String>,
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    messages: Vec<Value>,
    #[serde(default)]
    collection: Vec<Value>,
}

/// Reads one page. `"no posts found"` is an empty page; any status but `ok` is an error.
/// Records that do not parse are skipped and returned as the second value.
pub fn parse_page(body: &str) -> Result<(Page, Vec<String>), PageError> {
    let answer: Answer =
        serde_json::from_str(body).map_err(|e| PageError::NotJson(e.to_string()))?;
    let message = answer.messages.first().ok_or(PageError::NoStatus)?;
    let status = message
        .get("status")
        .and_then(Value::as_str)
        .ok_or(PageError::NoStatus)?;
    if status.trim().eq_ignore_ascii_case("no posts found") {
        let empty = Page {
            count: 0,
            total: 0,
            records: Vec::new(),
        };
        return Ok((empty, Vec::new()));
    }
    if !status.trim().eq_ignore_ascii_case("ok") {
        return Err(PageError::Status(status.to_string()));
    }
    let number = |key: &'static str| -> Result<usize, PageError> {
        match message.get(key) {
            None | Some(Value::Null) => Ok(0),
            Some(Value::Number(n)) => n.as_u64().map(|n| n as usize).ok_or(PageError::Count {
                key,
                value: n.to_string(),
            }),
            Some(Value::String(s)) => s.trim().parse().map_err(|_| PageError::Count {
                key,
                value: s.clone(),
            }),
            Some(v) => Err(PageError::Count {
                key,
                value: v.to_string(),
            }),
        }
    };
    let (count, total) = (number("count")?, number("total")?);
    let mut records = Vec::new();
    let mut rejected = Vec::new();
    for (n, raw) in answer.collection.into_iter().enumerate() {
        match serde_json::from_value::<Record>(raw) {
            Ok(r) => records.push(r),
            Err(e) => rejected.push(format!("record {}: {e}", n + 1)),
        }
    }
    Ok((
        Page {
            count: count.max(records.len()),
            total,
            records,
        },
        rejected,
    ))
}

/// The window's records as papers: one per DOI with its latest version's title and abstract.
/// A DOI first listed past v1 is a revision of a paper announced before the window.
pub fn papers(source: Source, records: Vec<Record>) -> (Vec<Paper>, Vec<String>) {
    let mut rejected = Vec::new();
    let mut latest: HashMap<Doi, (u32, u32, Record)> = HashMap::new();
    let mut order = Vec::new();
    for r in records {
        let Ok((doi, _)) = Doi::parse_versioned(&r.doi) else {
            rejected.push(format!("`{}` is not a DOI", r.doi));
            continue;
        };
        let version = match &r.version {
            Value::Number(n) => n.as_u64().map(|v| v as u32),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
        .unwrap_or(1);
        match latest.get_mut(&doi) {
            Some((first, v, rec)) => {
                *first = (*first).min(version);
                if version > *v {
                    *v = version;
                    *rec = r;
                }
            }
            None => {
                order.push(doi.clone());
                latest.insert(doi, (version, version, r));
            }
        }
    }
    let mut out = Vec::new();
    for doi in order {
        let Some((first, version, r)) = latest.remove(&doi) else {
            continue;
        };
        let title = strip_html(&r.title);
        if title.is_empty() {
            rejected.push(format!("{doi}: no title"));
            continue;
        }
        let category = match Category::subject(source, &r.category) {
            Ok(c) => c,
            Err(e) => {
                rejected.push(format!("{doi}: {e}"));
                continue;
            }
        };
        out.push(Paper {
            id: PaperId::Doi(doi),
            source,
            version,
            title,
            authors: r
                .authors
                .split(';')
                .map(display_author)
                .filter(|a| !a.is_empty())
                .collect(),
            abstract_text: strip_html(&r.abstract_text),
            categories: vec![category],
            announce_type: if first <= 1 {
                AnnounceType::New
            } else {
                AnnounceType::Replace
            },
            doi: r
                .published
                .filter(|p| !p.trim().is_empty() && !p.trim().eq_ignore_ascii_case("NA")),
            journal_ref: None,
        });
    }
    (out, rejected)
}

/// `Okonkwo, H. C.` → `H. C. Okonkwo`; a name without a comma stays as written.
pub fn display_author(raw: &str) -> String {
    let raw = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    match raw.split_once(',') {
        Some((surname, given)) if !given.trim().is_empty() => {
            format!("{} {}", given.trim(), surname.trim())
        }
        Some((surname, _)) => surname.trim().to_string(),
        None => raw,
    }
}

/// Text of a title or abstract with its HTML tags gone: `<sup>4</sup>` as `⁴`, `<sub>2</sub>`
/// as `₂`, other tags dropped, entities decoded. Never HTML: the digest escapes what it shows.
pub fn strip_html(raw: &str) -> String {
    static SCRIPT: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(?is)<(sup|sub)\b[^>]*>(.*?)</(sup|sub)\s*>").expect("valid regex")
    });
    static TAG: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(?s)</?[A-Za-z][^>]*>|<!--.*?-->").expect("valid regex")
    });
    let scripted = SCRIPT.replace_all(raw, |c: &regex::Captures| {
        let inner = TAG.replace_all(&c[2], "");
        let sup = c[1].eq_ignore_ascii_case("sup");
        let mapped: Option<String> = inner
            .chars()
            .map(|ch| script_char(ch, sup))
            .collect::<Option<String>>();
        match mapped {
            Some(s) => s,
            None if sup => format!("^{inner}"),
            None => format!("_{inner}"),
        }
    });
    let text = TAG.replace_all(&scripted, "");
    let decoded = html_escape::decode_html_entities(&text);
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn script_char(c: char, sup: bool) -> Option<char> {
    const SUP: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    const SUB: [char; 10] = ['₀', '₁', '₂', '₃', '₄', '₅', '₆', '₇', '₈', '₉'];
    if let Some(d) = c.to_digit(10) {
        return Some(if sup {
            SUP[d as usize]
        } else {
            SUB[d as usize]
        });
    }
    match (c, sup) {
        ('+', true) => Some('⁺'),
        ('-' | '−', true) => Some('⁻'),
        ('+', false) => Some('₊'),
        ('-' | '−', false) => Some('₋'),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!(
            "{}/tests/fixtures/biorxiv/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn a_page_counts_as_strings_and_lists_every_version() {
        let (page, rejected) = parse_page(&fixture("details-neuroscience-page0.json")).unwrap();
        assert!(rejected.is_empty());
        assert_eq!((page.count, page.total), (3, 4));
        let (papers, rejected) = papers(Source::Biorxiv, page.records);
        assert!(rejected.is_empty(), "{rejected:?}");
        // Two versions of one DOI are one paper, with v2's title and abstract.
        assert_eq!(papers.len(), 2);
        let p = &papers[0];
        assert_eq!(p.id.as_str(), "10.1101/2025.03.20.644321");
        assert_eq!(p.version, 2);
        assert_eq!(p.announce_type, AnnounceType::New);
        assert_eq!(
            p.title,
            "Sparse coding of odor identity in the piriform cortex"
        );
        assert!(p.abstract_text.contains("(revised)"));
        assert_eq!(p.authors[0], "H. C. Okonkwo");
        assert_eq!(
            p.abs_url(),
            "https://www.biorxiv.org/content/10.1101/2025.03.20.644321v2"
        );
        assert_eq!(
            p.pdf_url(),
            "https://www.biorxiv.org/content/10.1101/2025.03.20.644321v2.full.pdf"
        );
        assert_eq!(p.categories[0].as_str(), "biorxiv:neuroscience");
    }

    #[test]
    fn no_posts_found_is_an_empty_window_and_other_statuses_are_errors() {
        let (page, _) = parse_page(&fixture("details-empty.json")).unwrap();
        assert_eq!((page.count, page.total, page.records.len()), (0, 0, 0));
        assert!(matches!(
            parse_page(r#"{"messages":[{"status":"unknown server"}],"collection":[]}"#),
            Err(PageError::Status(_))
        ));
        assert!(matches!(
            parse_page("<html>503 Service Unavailable</html>"),
            Err(PageError::NotJson(_))
        ));
        assert!(matches!(
            parse_page(
                r#"{"messages":[{"status":"ok","count":"many","total":4}],"collection":[]}"#
            ),
            Err(PageError::Count { key: "count", .. })
        ));
        let (page, _) =
            parse_page(r#"{"messages":[{"status":"ok","count":1,"total":1}],"collection":[{"doi":"10.1101/x1","title":"T","version":1,"category":"genomics"}]}"#)
                .unwrap();
        assert_eq!((page.count, page.total), (1, 1));
    }

    #[test]
    fn html_in_titles_shows_as_text() {
        assert_eq!(
            strip_html("Imaging 10<sup>4</sup> neurons in <i>Drosophila</i> &amp; CO<sub>2</sub>"),
            "Imaging 10⁴ neurons in Drosophila & CO₂"
        );
        assert_eq!(strip_html("Ca<sup>2+</sup> waves"), "Ca²⁺ waves");
        assert_eq!(strip_html("<script>alert(1)</script>x"), "alert(1)x");
        assert_eq!(strip_html("a <b>x</b>"), "a x");
        assert_eq!(strip_html("p < 0.05 and q > 1"), "p < 0.05 and q > 1");
    }

    #[test]
    fn authors_read_given_names_first() {
        assert_eq!(display_author(" Okonkwo, H. C."), "H. C. Okonkwo");
        assert_eq!(display_author("van der Berg, A."), "A. van der Berg");
        assert_eq!(
            display_author("The ENIGMA Consortium"),
            "The ENIGMA Consortium"
        );
    }

    #[test]
    fn a_revision_first_seen_in_the_window_is_marked_so() {
        let r: Record = serde_json::from_str(
            r#"{"doi":"10.1101/2024.01.01.1","title":"T","authors":"A, B.","version":"3","category":"Epidemiology","abstract":"x","published":"10.1016/j.x"}"#,
        )
        .unwrap();
        let (papers, _) = papers(Source::Medrxiv, vec![r]);
        assert_eq!(papers[0].announce_type, AnnounceType::Replace);
        assert_eq!(papers[0].doi.as_deref(), Some("10.1016/j.x"));
        assert_eq!(papers[0].categories[0].as_str(), "medrxiv:epidemiology");
        assert!(papers[0]
            .abs_url()
            .starts_with("https://www.medrxiv.org/content/"));
    }
}
