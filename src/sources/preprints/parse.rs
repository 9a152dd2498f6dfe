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
    #[error("`{key}` is `{value}`, not a whole number")]
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
        return Err(PageError::Status(one_line(status, 120)));
    }
    // Whole numbers, as strings or numbers ("4", 4, 4.0, "1e3"); never assumed.
    let number = |key: &'static str| -> Result<Option<usize>, PageError> {
        let bad = |v: String| PageError::Count {
            key,
            value: one_line(&v, 40),
        };
        let whole = |f: f64| {
            (f.is_finite() && f >= 0.0 && f.fract() == 0.0 && f < 1e15).then_some(f as usize)
        };
        match message.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_u64()
                .map(|n| n as usize)
                .or_else(|| n.as_f64().and_then(whole))
                .map(Some)
                .ok_or_else(|| bad(n.to_string())),
            Some(Value::String(s)) => s
                .trim()
                .parse::<usize>()
                .ok()
                .or_else(|| s.trim().parse::<f64>().ok().and_then(whole))
                .map(Some)
                .ok_or_else(|| bad(s.clone())),
            Some(v) => Err(bad(v.to_string())),
        }
    };
    let (claimed, total) = (number("count")?, number("total")?.unwrap_or(0));
    let received = answer.collection.len();
    if claimed.is_some_and(|c| c != received) {
        tracing::warn!(
            claimed = claimed.unwrap_or(0),
            received,
            "the page's count is not the records it holds; paging by the records received"
        );
    }
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
            // Paged by what arrived: a count larger than the page would skip records.
            count: received,
            total,
            records,
        },
        rejected,
    ))
}

/// `s` on one line of at most `max` characters, control characters as spaces: server text
/// that reaches logs and alerts cannot forge lines.
fn one_line(s: &str, max: usize) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect();
    clean.trim().to_string()
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
        let title = capped(strip_html(&r.title), MAX_TITLE);
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
        out.push(
            Paper {
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
                abstract_text: capped(strip_html(&r.abstract_text), MAX_ABSTRACT),
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
            }
            .cleaned(),
        );
    }
    (out, rejected)
}

/// `Okonkwo, H. C.` → `H. C. Okonkwo`; a name without a comma stays as written. Tags and
/// control characters are text-stripped like titles.
pub fn display_author(raw: &str) -> String {
    let raw = strip_html(raw);
    match raw.split_once(',') {
        Some((surname, given)) if !given.trim().is_empty() => {
            format!("{} {}", given.trim(), surname.trim())
        }
        Some((surname, _)) => surname.trim().to_string(),
        None => raw,
    }
}

/// Longest title and abstract kept (characters); past it, cut at a word with "…".
const MAX_TITLE: usize = 500;
const MAX_ABSTRACT: usize = 8_000;

/// Text of a title or abstract with its HTML tags gone: `<sup>4</sup>` as `⁴`, `<sub>2</sub>`
/// as `₂`, other known tags dropped (`x<y and y>z` is not a tag), `<script>`/`<style>` with
/// their content, entities decoded, control and bidi-override characters removed. Never HTML:
/// the digest escapes what it shows.
pub fn strip_html(raw: &str) -> String {
    static HIDDEN: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(?is)<(script|style)\b[^>]*>.*?(</(script|style)\s*>|$)")
            .expect("valid regex")
    });
    static SCRIPT: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(?is)<(sup|sub)\b[^>]*>(.*?)</(sup|sub)\s*>").expect("valid regex")
    });
    static TAG: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r"(?is)<!--.*?-->|</?(?:i|b|em|strong|u|s|sup|sub|sc|small|big|tt|br|p|span|div|a|font|h[1-6]|ul|ol|li|blockquote|code|pre|img|hr|table|tr|td|th|title|scp|italic|bold|inline-formula|iframe|svg|object|embed|form|input|button|link|meta|base|video|audio|source|noscript|template|(?:mml|jats|tex):[a-z-]+|math|mi|mo|mn|mrow|msub|msup|mtext|mfrac)(?:\s[^>]*)?/?>",
        )
        .expect("valid regex")
    });
    let visible = HIDDEN.replace_all(raw, "");
    let scripted = SCRIPT.replace_all(&visible, |c: &regex::Captures| {
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
    plain_text(&decoded)
}

/// Whitespace collapsed; control characters, bidi overrides and zero-width spaces removed (a
/// title cannot reorder or hide what a reader sees, nor reach a terminal as escapes).
pub fn plain_text(s: &str) -> String {
    // Terminal escape sequences go whole (CSI `ESC [ … m`, OSC `ESC ] … BEL`), not just the ESC.
    static ESCAPES: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]?|\x9b[0-?]*[ -/]*[@-~]")
            .expect("valid regex")
    });
    ESCAPES
        .replace_all(s, "")
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .filter(|&c| !crate::support::text::unwanted_char(c) && c != '\u{FFFD}')
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// `s` cut to at most `max` characters at a word boundary, with "…" when cut.
fn capped(s: String, max: usize) -> String {
    if s.chars().count() <= max {
        return s;
    }
    let cut: String = s.chars().take(max).collect();
    let at = cut.rfind(' ').unwrap_or(cut.len());
    format!("{}…", cut[..at].trim_end())
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
        assert_eq!(strip_html("<script>alert(1)</script>x"), "x");
        assert_eq!(strip_html("<style>body{display:none}</style>y"), "y");
        assert_eq!(strip_html("a <b>x</b> <img src=x onerror=alert(1)>"), "a x");
        assert_eq!(strip_html("p < 0.05 and q > 1"), "p < 0.05 and q > 1");
        assert_eq!(strip_html("if x<y and y>z then"), "if x<y and y>z then");
        assert_eq!(
            strip_html("a<iframe src=x></iframe><svg onload=alert(1)>b"),
            "ab"
        );
        assert_eq!(strip_html("<i>unclosed"), "unclosed");
        // No terminal escapes, bells, NULs, bidi overrides or zero-width spaces.
        assert_eq!(
            strip_html("a\u{0}\u{7}\u{1b}[31mRED\u{1b}[0m \u{202E}gnp.exe\u{200B}\u{2060}"),
            "aRED gnp.exe"
        );
        assert_eq!(strip_html("\u{1b}]0;pwned\u{7}title"), "title");
        assert_eq!(
            strip_html("\u{1b}]8;;http://evil\u{1b}\\link\u{1b}]8;;\u{1b}\\"),
            "link"
        );
        assert_eq!(strip_html("tabs\tand\u{b}vt\u{c}ff"), "tabs and vt ff");
        assert_eq!(display_author("<b>Evil</b>, X."), "X. Evil");
    }

    #[test]
    fn counts_are_whole_numbers_however_written_and_paging_follows_what_arrived() {
        for (count, total) in [
            ("3.0", "4"),
            ("3", "4.0"),
            ("\"3\"", "\"4\""),
            ("\"3.0\"", "4e0"),
        ] {
            let body = fixture("details-neuroscience-page0.json")
                .replace("\"count\":3", &format!("\"count\":{count}"))
                .replace("\"total\":\"4\"", &format!("\"total\":{total}"));
            let (page, _) = parse_page(&body).unwrap_or_else(|e| panic!("{count}/{total}: {e}"));
            assert_eq!((page.count, page.total), (3, 4), "{count}/{total}");
        }
        // A count larger than the page must not skip the records it did not hold.
        let body =
            fixture("details-neuroscience-page0.json").replace("\"count\":3", "\"count\":100");
        assert_eq!(parse_page(&body).unwrap().0.count, 3);
        assert!(matches!(
            parse_page(r#"{"messages":[{"status":"ok","count":2.5,"total":4}],"collection":[]}"#),
            Err(PageError::Count { key: "count", .. })
        ));
        // Server text cannot forge log or alert lines.
        let Err(PageError::Status(s)) =
            parse_page("{\"messages\":[{\"status\":\"bad\\r\\nBcc: evil@x.org\"}]}")
        else {
            panic!("a status error")
        };
        assert!(!s.contains('\n') && !s.contains('\r'), "{s}");
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
