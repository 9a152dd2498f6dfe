//! Parsers for arXiv's RSS feed (`rss.arxiv.org`, format since 2024) and its Atom query API.

use chrono::NaiveDate;
use serde::Deserialize;

use crate::domain::{AnnounceType, ArxivId, Category, Paper, Source};
use crate::support::tex;

/// One day's papers as announced.
#[derive(Debug, Clone)]
pub struct Announcement {
    /// The announcement day (arXiv's date for the mailing, in US Eastern time).
    pub day: NaiveDate,
    pub papers: Vec<Paper>,
    /// Items that could not be read, with the reason; each is skipped, the rest are kept.
    pub rejected: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("the feed is not valid XML for an arXiv RSS channel: {0}")]
    Xml(String),
    #[error("the feed has no usable date (pubDate / lastBuildDate): {0}")]
    Date(String),
    #[error("the arXiv API answered with an error: {0}")]
    Api(String),
    /// An RSS 1.0 (RDF) feed: arXiv's format before 2024, no longer served.
    #[error("this is an old RSS 1.0 (RDF) feed, the format arXiv replaced in 2024; use the RSS 2.0 feed at https://rss.arxiv.org/rss/<categories>")]
    Rdf,
    /// The API stopped returning entries before the total it announced.
    #[error("the arXiv API returned an empty page at {start} of {total} results; the day would be incomplete")]
    EmptyPage { start: usize, total: usize },
    /// arXiv's RSS answer to a query it cannot serve (an unknown category): an empty channel
    /// titled "Feed error for query: …". Never a quiet day.
    #[error("arXiv answered with an error feed: \"{0}\" (check [arxiv] categories)")]
    ErrorFeed(String),
}

#[derive(Deserialize)]
struct Rss {
    channel: Channel,
}

#[derive(Deserialize)]
struct Channel {
    #[serde(default)]
    title: Option<String>,
    #[serde(rename = "pubDate")]
    pub_date: Option<String>,
    #[serde(rename = "lastBuildDate")]
    last_build_date: Option<String>,
    #[serde(default, rename = "item")]
    items: Vec<Item>,
}

#[derive(Deserialize)]
struct Text {
    #[serde(rename = "$text", default)]
    text: String,
}

#[derive(Deserialize)]
struct Item {
    title: Option<String>,
    link: Option<String>,
    description: Option<String>,
    guid: Option<Text>,
    #[serde(default, rename = "category")]
    categories: Vec<String>,
    announce_type: Option<String>,
    creator: Option<String>,
    #[serde(rename = "DOI")]
    doi: Option<String>,
    journal_reference: Option<String>,
}

/// Parses an arXiv RSS document. A channel without items is a day without an announcement
/// (weekends, holidays) and yields zero papers; XML that is not an RSS channel is an error.
pub fn parse_rss(xml: &str) -> Result<Announcement, FeedError> {
    if xml.contains("<rdf:RDF") {
        return Err(FeedError::Rdf);
    }
    let rss: Rss = quick_xml::de::from_str(xml).map_err(|e| FeedError::Xml(e.to_string()))?;
    if let Some(title) = &rss.channel.title {
        if title.trim_start().starts_with("Feed error") {
            return Err(FeedError::ErrorFeed(title.trim().to_string()));
        }
    }
    let date_raw = rss
        .channel
        .pub_date
        .or(rss.channel.last_build_date)
        .ok_or_else(|| FeedError::Date("missing".into()))?;
    let day = chrono::DateTime::parse_from_rfc2822(date_raw.trim())
        .map_err(|e| FeedError::Date(format!("`{date_raw}`: {e}")))?
        .date_naive();
    let mut papers = Vec::new();
    let mut rejected = Vec::new();
    for (n, item) in rss.channel.items.into_iter().enumerate() {
        match rss_item(item) {
            Ok(p) => papers.push(p),
            Err(why) => rejected.push(format!("item {}: {why}", n + 1)),
        }
    }
    Ok(Announcement {
        day,
        papers: crate::domain::merge_duplicates(papers),
        rejected,
    })
}

fn rss_item(item: Item) -> Result<Paper, String> {
    let description = item.description.unwrap_or_default();
    // "arXiv:2503.21135v1 Announce Type: new \nAbstract: ..."
    let header = description.split("Abstract:").next().unwrap_or("");
    let id_source = item
        .guid
        .as_ref()
        .map(|g| g.text.clone())
        .or_else(|| header.split_whitespace().next().map(str::to_string))
        .or(item.link.clone())
        .ok_or("no guid, description or link to take the arXiv ID from")?;
    let (id, version) = ArxivId::parse_versioned(&id_source).map_err(|e| e.to_string())?;
    let announce_raw = item
        .announce_type
        .or_else(|| {
            header
                .split("Announce Type:")
                .nth(1)
                .map(|s| s.trim().to_string())
        })
        .ok_or_else(|| format!("{id}: no announce type"))?;
    let announce_type = AnnounceType::parse(&announce_raw)
        .ok_or_else(|| format!("{id}: unknown announce type `{announce_raw}`"))?;
    let title = clean(&item.title.unwrap_or_default());
    if title.is_empty() {
        return Err(format!("{id}: empty title"));
    }
    let abstract_text = match description.split_once("Abstract:") {
        Some((_, a)) => clean(a),
        None => clean(&description),
    };
    let authors = split_authors(&item.creator.unwrap_or_default());
    let categories = item
        .categories
        .iter()
        .filter_map(|c| Category::parse(c).ok())
        .collect();
    Ok(Paper {
        id: id.into(),
        source: Source::Arxiv,
        version: version.unwrap_or(1),
        title,
        authors,
        abstract_text,
        categories,
        announce_type,
        doi: item
            .doi
            .map(|d| d.trim().to_string())
            .filter(|d| !d.is_empty()),
        journal_ref: item
            .journal_reference
            .map(|j| clean(&j))
            .filter(|j| !j.is_empty()),
    }
    .cleaned())
}

/// Collapses whitespace and converts TeX to Unicode.
fn clean(s: &str) -> String {
    let collapsed = s.split_whitespace().collect::<Vec<_>>().join(" ");
    tex::to_unicode(&collapsed)
}

/// Splits arXiv's `dc:creator` list ("A, B (Eric) C, D and E") into names, keeping parenthesised
/// parts (nicknames, affiliations) with the name they belong to, and converting TeX.
pub fn split_authors(raw: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut depth = 0i32;
    let mut current = String::new();
    for c in raw.chars() {
        match c {
            '(' | '{' => depth += 1,
            ')' | '}' => depth -= 1,
            _ => {}
        }
        if (c == ',' || c == ';') && depth <= 0 {
            names.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    names.push(current);
    names
        .into_iter()
        .flat_map(|n| {
            // "A and B" at the end of a list.
            let n = n
                .trim()
                .strip_prefix("and ")
                .unwrap_or(n.trim())
                .to_string();
            match n.split_once(" and ") {
                Some((a, b)) if !a.contains('(') => vec![a.to_string(), b.to_string()],
                _ => vec![n],
            }
        })
        .map(|n| clean(&n))
        .filter(|n| !n.is_empty())
        .collect()
}

#[derive(Deserialize)]
struct AtomFeed {
    #[serde(default, rename = "entry")]
    entries: Vec<Entry>,
    #[serde(rename = "totalResults")]
    total_results: Option<Text>,
}

#[derive(Deserialize)]
struct Entry {
    id: Option<String>,
    title: Option<String>,
    summary: Option<String>,
    #[serde(default, rename = "author")]
    authors: Vec<Author>,
    #[serde(default, rename = "category")]
    categories: Vec<Term>,
    primary_category: Option<Term>,
    doi: Option<String>,
    journal_ref: Option<String>,
}

#[derive(Deserialize)]
struct Author {
    name: String,
}

#[derive(Deserialize)]
struct Term {
    #[serde(rename = "@term")]
    term: String,
}

/// One page of the arXiv query API: the papers and the total number of results.
pub struct ApiPage {
    pub papers: Vec<Paper>,
    pub rejected: Vec<String>,
    pub total_results: usize,
    pub entries: usize,
}

/// Parses an Atom page from `export.arxiv.org/api/query`. `wanted` decides which papers count as
/// `new` (primary category among them) and which as `cross`.
pub fn parse_api(xml: &str, wanted: &[Category]) -> Result<ApiPage, FeedError> {
    let feed: AtomFeed = quick_xml::de::from_str(xml).map_err(|e| FeedError::Xml(e.to_string()))?;
    if let [only] = feed.entries.as_slice() {
        if only.title.as_deref().map(str::trim) == Some("Error") {
            return Err(FeedError::Api(clean(
                only.summary.as_deref().unwrap_or("unknown error"),
            )));
        }
    }
    let total_results = feed
        .total_results
        .and_then(|t| t.text.trim().parse().ok())
        .unwrap_or(feed.entries.len());
    let entries = feed.entries.len();
    let mut papers = Vec::new();
    let mut rejected = Vec::new();
    for (n, e) in feed.entries.into_iter().enumerate() {
        // A bad entry is skipped and reported; the rest of the page stands.
        let Some(raw_id) = e.id.as_deref() else {
            rejected.push(format!("entry {}: no <id>", n + 1));
            continue;
        };
        let (id, version) = match ArxivId::parse_versioned(raw_id) {
            Ok(v) => v,
            Err(err) => {
                rejected.push(format!("entry {}: {err}", n + 1));
                continue;
            }
        };
        let title = clean(e.title.as_deref().unwrap_or(""));
        if title.is_empty() {
            rejected.push(format!("entry {} ({id}): no title", n + 1));
            continue;
        }
        let categories: Vec<Category> = e
            .categories
            .iter()
            .filter_map(|t| Category::parse(&t.term).ok())
            .collect();
        let primary = e
            .primary_category
            .and_then(|t| Category::parse(&t.term).ok());
        // The API returns papers by first-submission date with their latest version, so a
        // paper in the window was new (or cross-listed) on that day whatever its version now.
        let announce_type = if primary.as_ref().is_some_and(|p| wanted.contains(p)) {
            AnnounceType::New
        } else {
            AnnounceType::Cross
        };
        papers.push(
            Paper {
                id: id.into(),
                source: Source::Arxiv,
                version: version.unwrap_or(1),
                title,
                authors: e
                    .authors
                    .iter()
                    .map(|a| clean(&a.name))
                    .filter(|n| !n.is_empty())
                    .collect(),
                abstract_text: clean(e.summary.as_deref().unwrap_or("")),
                categories,
                announce_type,
                doi: e.doi.map(|d| d.trim().to_string()),
                journal_ref: e.journal_ref.map(|j| clean(&j)),
            }
            .cleaned(),
        );
    }
    Ok(ApiPage {
        papers,
        rejected,
        total_results,
        entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_rdf_feeds_are_named_as_such() {
        let xml = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/arxiv/rdf-cs.LG-2023-10-02.xml"
        ));
        let err = parse_rss(xml).unwrap_err();
        assert!(matches!(err, FeedError::Rdf));
        assert!(err.to_string().contains("RSS 1.0 (RDF)"), "{err}");
    }

    #[test]
    fn a_paper_listed_twice_is_one_paper() {
        let xml = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/arxiv/rss-cs.LG+cs.AI-2025-03-28.xml"
        ));
        let first_item = {
            let start = xml.find("<item>").unwrap();
            let end = xml[start..].find("</item>").unwrap() + start + "</item>".len();
            xml[start..end].to_string()
        };
        let doubled = xml.replacen(
            &first_item,
            &format!(
                "{first_item}\n{}",
                first_item.replace("<category>cs.LG</category>", "<category>stat.ML</category>")
            ),
            1,
        );
        let once = parse_rss(xml).unwrap();
        let twice = parse_rss(&doubled).unwrap();
        assert_eq!(twice.papers.len(), once.papers.len());
        let id = &once.papers[0].id;
        let merged = twice.papers.iter().find(|p| &p.id == id).unwrap();
        assert!(merged.categories.len() >= once.papers[0].categories.len());
    }

    #[test]
    fn a_bad_api_entry_is_skipped_and_reported_not_the_page() {
        let xml = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/arxiv/atom-api-2025-03-27.xml"
        ));
        let first = xml.find("<entry>").unwrap();
        let id_start = xml[first..].find("<id>").unwrap() + first;
        let id_end = xml[id_start..].find("</id>").unwrap() + id_start + "</id>".len();
        let no_id = format!("{}{}", &xml[..id_start], &xml[id_end..]);
        let wanted = [Category::parse("cs.LG").unwrap()];
        let page = parse_api(&no_id, &wanted).unwrap();
        assert_eq!(page.papers.len(), 1, "the other entry stands");
        assert!(page.rejected[0].contains("no <id>"), "{:?}", page.rejected);
        let second = xml.rfind("<title>").unwrap();
        let close = xml[second..].find("</title>").unwrap() + second;
        let no_title = format!(
            "{}<title>  </title>{}",
            &xml[..second],
            &xml[close + "</title>".len()..]
        );
        let page = parse_api(&no_title, &wanted).unwrap();
        assert_eq!(page.papers.len(), 1, "no blank paper");
        assert!(page.rejected[0].contains("no title"), "{:?}", page.rejected);
    }

    #[test]
    fn the_error_feed_is_an_error_not_a_quiet_day() {
        let xml = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/arxiv/rss-feed-error-astroph.xml"
        ));
        match parse_rss(xml) {
            Err(FeedError::ErrorFeed(title)) => {
                assert_eq!(title, "Feed error for query: astroph")
            }
            other => panic!("{other:?}"),
        }
        let empty = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/arxiv/rss-cs.LG+cs.AI-weekend-empty.xml"
        ));
        assert!(
            parse_rss(empty).unwrap().papers.is_empty(),
            "a real empty day stays one"
        );
    }

    #[test]
    fn authors_with_nicknames_stay_whole() {
        assert_eq!(
            split_authors("Jiayu Chen, Yun (Eric) Liang, Xiang Chen"),
            vec!["Jiayu Chen", "Yun (Eric) Liang", "Xiang Chen"]
        );
        assert_eq!(
            split_authors(r#"Yupei Li, Manuel Milling, Bj\"orn W. Schuller"#),
            vec!["Yupei Li", "Manuel Milling", "Björn W. Schuller"]
        );
        assert_eq!(
            split_authors("A. One (MIT, CSAIL), B. Two"),
            vec!["A. One (MIT, CSAIL)", "B. Two"]
        );
        assert_eq!(
            split_authors("Ada Lovelace and Charles Babbage"),
            vec!["Ada Lovelace", "Charles Babbage"]
        );
        assert!(split_authors("").is_empty());
    }

    #[test]
    fn malformed_xml_is_an_error_not_an_empty_day() {
        assert!(matches!(
            parse_rss("<rss><channel><item>"),
            Err(FeedError::Xml(_))
        ));
        assert!(matches!(
            parse_rss("<html><body>503 Service Unavailable</body></html>"),
            Err(FeedError::Xml(_))
        ));
        assert!(parse_rss("").is_err());
    }

    #[test]
    fn api_error_feed_is_an_error() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>http://arxiv.org/api/errors#incorrect_id_format_for_1234</id>
<title>Error</title><summary>incorrect id format for 1234</summary></entry></feed>"#;
        match parse_api(xml, &[]) {
            Err(FeedError::Api(msg)) => assert!(msg.contains("incorrect id format")),
            other => panic!("expected an API error, got {:?}", other.map(|p| p.entries)),
        }
    }
}
