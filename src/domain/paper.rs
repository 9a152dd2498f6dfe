use super::{Category, PaperId};

/// How a paper appeared in a day's announcement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnnounceType {
    New,
    Cross,
    Replace,
    ReplaceCross,
}

impl AnnounceType {
    pub fn parse(raw: &str) -> Option<AnnounceType> {
        match raw.trim() {
            "new" => Some(AnnounceType::New),
            "cross" => Some(AnnounceType::Cross),
            "replace" => Some(AnnounceType::Replace),
            "replace-cross" => Some(AnnounceType::ReplaceCross),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AnnounceType::New => "new",
            AnnounceType::Cross => "cross",
            AnnounceType::Replace => "replace",
            AnnounceType::ReplaceCross => "replace-cross",
        }
    }

    pub const ALL: [&'static str; 4] = ["new", "cross", "replace", "replace-cross"];
}

/// One paper as announced. Text fields are already Unicode (TeX converted), never HTML-escaped.
#[derive(Debug, Clone, PartialEq)]
pub struct Paper {
    pub id: PaperId,
    pub source: Source,
    pub version: u32,
    pub title: String,
    pub authors: Vec<String>,
    pub abstract_text: String,
    pub categories: Vec<Category>,
    pub announce_type: AnnounceType,
    pub doi: Option<String>,
    pub journal_ref: Option<String>,
}

impl Paper {
    /// The paper with its text from outside cleaned ([`crate::support::text::clean`]): what a
    /// source parser hands on.
    pub fn cleaned(mut self) -> Paper {
        let clean = |s: &mut String| {
            if let std::borrow::Cow::Owned(c) = crate::support::text::clean(s) {
                *s = c;
            }
        };
        clean(&mut self.title);
        clean(&mut self.abstract_text);
        self.authors.iter_mut().for_each(clean);
        self.authors.retain(|a| !a.trim().is_empty());
        if let Some(j) = self.journal_ref.as_mut() {
            clean(j);
        }
        if let Some(d) = self.doi.as_mut() {
            clean(d);
        }
        self
    }

    /// The paper's page: arXiv's abstract page, or the preprint server's page of this version.
    pub fn abs_url(&self) -> String {
        match self.source {
            Source::Arxiv => format!("https://arxiv.org/abs/{}", self.id),
            s => format!(
                "https://www.{}.org/content/{}v{}",
                s.as_str(),
                self.id,
                self.version
            ),
        }
    }

    /// How the paper is cited beside its links: `arXiv:2503.21135`, `bioRxiv 10.1101/…`.
    pub fn citation(&self) -> String {
        match self.source {
            Source::Arxiv => format!("arXiv:{}", self.id),
            s => format!("{} {}", s.name(), self.id),
        }
    }

    pub fn pdf_url(&self) -> String {
        match self.source {
            Source::Arxiv => format!("https://arxiv.org/pdf/{}", self.id),
            _ => format!("{}.full.pdf", self.abs_url()),
        }
    }

    /// arXiv's HTML version of the paper (arXiv only).
    pub fn html_url(&self) -> Option<String> {
        (self.source == Source::Arxiv).then(|| format!("https://arxiv.org/html/{}", self.id))
    }

    /// arXiv's BibTeX entry for the paper (arXiv only).
    pub fn bibtex_url(&self) -> Option<String> {
        (self.source == Source::Arxiv).then(|| format!("https://arxiv.org/bibtex/{}", self.id))
    }

    /// How the paper came into the announcement, when not as a new submission: "cross-list
    /// from cs.CL", "replaced (v3)", "replaced cross-list (v2)".
    pub fn announce_mark(&self) -> Option<String> {
        let primary = self.categories.first();
        match self.announce_type {
            AnnounceType::New => None,
            AnnounceType::Cross => Some(match primary {
                Some(c) => format!("cross-list from {c}"),
                None => "cross-list".to_string(),
            }),
            AnnounceType::Replace => Some(format!("replaced (v{})", self.version)),
            AnnounceType::ReplaceCross => Some(format!("replaced cross-list (v{})", self.version)),
        }
    }
}

/// Where papers come from.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Arxiv,
    Biorxiv,
    Medrxiv,
}

impl Source {
    pub const ALL: [Source; 3] = [Source::Arxiv, Source::Biorxiv, Source::Medrxiv];

    /// The key in config, categories (`biorxiv:neuroscience`) and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Arxiv => "arxiv",
            Source::Biorxiv => "biorxiv",
            Source::Medrxiv => "medrxiv",
        }
    }

    /// As the source writes its own name.
    pub fn name(self) -> &'static str {
        match self {
            Source::Arxiv => "arXiv",
            Source::Biorxiv => "bioRxiv",
            Source::Medrxiv => "medRxiv",
        }
    }

    /// The sources `categories` draw on, each once, in source order.
    pub fn of(categories: &[super::Category]) -> Vec<Source> {
        let mut out: Vec<Source> = categories.iter().map(super::Category::source).collect();
        out.sort();
        out.dedup();
        out
    }

    pub fn parse(raw: &str) -> Option<Source> {
        Source::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(raw.trim()))
    }
}

/// A paper listed twice (arXiv does it across categories, a preprint server across subjects)
/// is one paper: the first listing, with the categories of both.
pub fn merge_duplicates(papers: Vec<Paper>) -> Vec<Paper> {
    let mut out: Vec<Paper> = Vec::with_capacity(papers.len());
    let mut index: std::collections::HashMap<PaperId, usize> = std::collections::HashMap::new();
    for p in papers {
        match index.get(&p.id) {
            Some(&i) => {
                for c in p.categories {
                    if !out[i].categories.contains(&c) {
                        out[i].categories.push(c);
                    }
                }
            }
            None => {
                index.insert(p.id.clone(), out.len());
                out.push(p);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paper(kind: AnnounceType, version: u32) -> Paper {
        Paper {
            id: PaperId::parse("2503.21135").unwrap(),
            source: Source::Arxiv,
            version,
            title: "t".into(),
            authors: vec![],
            abstract_text: String::new(),
            categories: vec![crate::domain::Category::parse("cs.CL").unwrap()],
            announce_type: kind,
            doi: None,
            journal_ref: None,
        }
    }

    #[test]
    fn a_card_says_how_a_paper_came_into_the_announcement() {
        assert_eq!(paper(AnnounceType::New, 1).announce_mark(), None);
        assert_eq!(
            paper(AnnounceType::Cross, 1).announce_mark().as_deref(),
            Some("cross-list from cs.CL")
        );
        assert_eq!(
            paper(AnnounceType::Replace, 3).announce_mark().as_deref(),
            Some("replaced (v3)")
        );
        assert_eq!(
            paper(AnnounceType::ReplaceCross, 2)
                .announce_mark()
                .as_deref(),
            Some("replaced cross-list (v2)")
        );
        let p = paper(AnnounceType::New, 1);
        assert_eq!(
            p.html_url().as_deref(),
            Some("https://arxiv.org/html/2503.21135")
        );
        assert_eq!(
            p.bibtex_url().as_deref(),
            Some("https://arxiv.org/bibtex/2503.21135")
        );
        let b = Paper {
            source: Source::Biorxiv,
            ..p
        };
        assert_eq!((b.html_url(), b.bibtex_url()), (None, None));
    }
}
