//! Interests from a reader's own library (a BibTeX/BibLaTeX export, parsed by the `biblatex`
//! crate): co-authors who recur become followed authors, recurring keywords and title terms
//! become keywords, and the library's arXiv and bioRxiv/medRxiv papers are never sent again as new.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::domain::PaperId;
use crate::domain::Subscriber;
pub use crate::store::library::LibraryPaper;

pub use super::bibtex::{parse_bibtex, Item, Limits};

/// How long reading a library may take before paperboy gives up on it.
pub const READ_TIME: std::time::Duration = std::time::Duration::from_secs(8);

/// Reads a library (text from outside) off the async runtime, within the default limits and
/// `READ_TIME`.
pub async fn read(text: String) -> Result<Vec<Item>, String> {
    crate::support::bounded::off_runtime("the library", READ_TIME, move || {
        parse_bibtex(&text, &Limits::default())
    })
    .await?
}

/// What importing a library would change for a reader.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Proposal {
    /// Co-authors in at least two entries (with their count), not the reader, not followed yet.
    pub follow: Vec<(String, usize)>,
    pub keywords: Vec<String>,
    /// Papers of the library paperboy could send (arXiv IDs, bioRxiv/medRxiv DOIs): never
    /// offered as new.
    pub arxiv: Vec<PaperId>,
}

/// A proposal with the topics line to add, as shown to the reader and applied on their word.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Plan {
    pub entries: usize,
    pub proposal: Proposal,
    pub topics_line: Option<String>,
    /// The library's papers, kept on import: signals for the reader's ranking, and the
    /// co-authors a followed name is checked against.
    #[serde(default)]
    pub papers: Vec<LibraryPaper>,
    /// A reply's "set topics:": every topic replaced, on the reader's "yes" (a forged or
    /// forwarded reply must not cut a reader off from their papers in one mail).
    #[serde(default)]
    pub replace_topics: Option<Vec<String>>,
}

/// The papers of `items` as kept (untitled entries left out).
pub fn papers(items: &[Item]) -> Vec<LibraryPaper> {
    items
        .iter()
        .filter(|i| !i.title.trim().is_empty())
        .map(|i| LibraryPaper {
            title: i.title.trim().to_string(),
            authors: i.authors.clone(),
        })
        .collect()
}

impl Plan {
    /// The plan in a few lines ("+ follow …"), for the terminal and for a reply.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        for (name, n) in &self.proposal.follow {
            s.push_str(&format!("  + follow {name}  (in {n} entries)\n"));
        }
        for k in &self.proposal.keywords {
            s.push_str(&format!("  + keyword {k}\n"));
        }
        if let Some(line) = &self.topics_line {
            s.push_str(&format!("  + topics: {line}\n"));
        }
        if let Some(topics) = &self.replace_topics {
            s.push_str(&format!(
                "  replace all your topics with these {}:\n",
                topics.len()
            ));
            for (n, t) in topics.iter().enumerate() {
                s.push_str(&format!("    {}. {t}\n", n + 1));
            }
        }
        if self.entries == 0 {
            return s;
        }
        s.push_str(&format!(
            "  {} papers of the library (arXiv, bioRxiv, medRxiv) will never be sent as new\n",
            self.proposal.arxiv.len()
        ));
        if !self.papers.is_empty() {
            s.push_str(&format!(
                "  {} titles will teach the ranking what you read\n",
                self.papers.len()
            ));
        }
        s
    }

    /// The file changes that apply the plan to `reader` as they are now.
    pub fn sets(&self, reader: &Subscriber) -> Vec<(String, crate::subscribers::edit::FieldValue)> {
        use crate::subscribers::edit::FieldValue;
        let mut sets = Vec::new();
        let p = &self.proposal;
        let new_authors: Vec<String> = p
            .follow
            .iter()
            .map(|(n, _)| n.clone())
            .filter(|n| {
                !reader
                    .authors
                    .iter()
                    .any(|a| crate::domain::same_author(a, n))
            })
            .collect();
        if !new_authors.is_empty() {
            let mut authors = reader.authors.clone();
            authors.extend(new_authors);
            sets.push(("authors".to_string(), FieldValue::List(authors)));
        }
        let new_keywords: Vec<String> = p
            .keywords
            .iter()
            .filter(|k| !reader.keywords.iter().any(|r| r.eq_ignore_ascii_case(k)))
            .cloned()
            .collect();
        if !new_keywords.is_empty() {
            let mut keywords = reader.keywords.clone();
            keywords.extend(new_keywords);
            sets.push(("keywords".to_string(), FieldValue::List(keywords)));
        }
        if let Some(topics) = &self.replace_topics {
            sets.push(("topics".to_string(), FieldValue::Text(topics.join("\n"))));
        }
        if let Some(line) = &self.topics_line {
            if !reader.topics.contains(line.as_str()) {
                sets.push((
                    "topics".to_string(),
                    FieldValue::Text(format!("{}\n{line}", reader.topics.trim_end())),
                ));
            }
        }
        sets
    }
}

/// Without a model: the new keywords as a topics line.
pub fn keyword_line(p: &Proposal) -> Option<String> {
    (!p.keywords.is_empty()).then(|| format!("From my library: {}.", p.keywords.join(", ")))
}

const STOPWORDS: &[&str] = &[
    "with",
    "from",
    "that",
    "this",
    "than",
    "into",
    "over",
    "under",
    "using",
    "via",
    "towards",
    "toward",
    "their",
    "about",
    "when",
    "what",
    "which",
    "through",
    "learning",
    "model",
    "models",
    "based",
    "approach",
    "method",
    "methods",
    "study",
    "analysis",
    "data",
    "deep",
    "neural",
    "network",
    "networks",
    "large",
    "efficient",
    "improving",
    "beyond",
    "new",
    "for",
    "and",
    "the",
    "are",
    "does",
    "more",
    "less",
    "does",
    "case",
    "revisited",
];

pub fn propose(items: &[Item], reader: &Subscriber) -> Proposal {
    // Co-authors, counted once per entry; "J. Müller" and "Jürgen Müller" are one person (the
    // fuller name is kept). Names are grouped by surname first (different surnames are never
    // one person), so a 10,000-entry library is compared within groups, not all against all.
    let same =
        |a: &str, b: &str| crate::domain::same_author(a, b) || crate::domain::same_author(b, a);
    let mut people: Vec<(String, usize)> = Vec::new();
    let mut by_surname: HashMap<String, Vec<usize>> = HashMap::new();
    for item in items {
        let mut counted: BTreeSet<usize> = BTreeSet::new();
        for a in &item.authors {
            let Some(key) = crate::domain::surname_key(a) else {
                continue;
            };
            let group = by_surname.entry(key).or_default();
            let i = match group.iter().copied().find(|&i| same(&people[i].0, a)) {
                Some(i) => i,
                None => {
                    people.push((a.clone(), 0));
                    group.push(people.len() - 1);
                    people.len() - 1
                }
            };
            if a.chars().count() > people[i].0.chars().count() {
                people[i].0 = a.clone();
            }
            if counted.insert(i) {
                people[i].1 += 1;
            }
        }
    }
    let is_reader = |name: &str| same(&reader.name, name);
    let followed = |name: &str| reader.authors.iter().any(|f| same(f, name));
    let mut follow: Vec<(String, usize)> = people
        .into_iter()
        .filter(|(name, n)| *n >= 2 && !is_reader(name) && !followed(name))
        .collect();
    follow.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    follow.truncate(10);

    // Keywords: the library's own keywords in two entries or more, then title terms that recur.
    let mut kw: BTreeMap<String, usize> = BTreeMap::new();
    for item in items {
        let mut seen = BTreeSet::new();
        for k in &item.keywords {
            if seen.insert(k.clone()) {
                *kw.entry(k.clone()).or_default() += 1;
            }
        }
    }
    let mut terms: BTreeMap<String, usize> = BTreeMap::new();
    for item in items {
        let words: Vec<String> = item
            .title
            .to_lowercase()
            .split(|c: char| !c.is_alphanumeric() && c != '-')
            .filter(|w| w.chars().count() >= 4 && !STOPWORDS.contains(w))
            .map(str::to_string)
            .collect();
        let mut seen = BTreeSet::new();
        for w in words {
            if seen.insert(w.clone()) {
                *terms.entry(w).or_default() += 1;
            }
        }
    }
    let have: BTreeSet<String> = reader.keywords.iter().map(|k| k.to_lowercase()).collect();
    let mut keywords: Vec<(String, usize)> = kw.into_iter().filter(|(_, n)| *n >= 2).collect();
    keywords.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut title_terms: Vec<(String, usize)> =
        terms.into_iter().filter(|(_, n)| *n >= 2).collect();
    title_terms.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut out: Vec<String> = Vec::new();
    for (k, _) in keywords.into_iter().chain(title_terms) {
        let covered = out.iter().any(|o| o.contains(&k)) || have.iter().any(|h| h.contains(&k));
        if !covered && !have.contains(&k) {
            out.push(k);
        }
        if out.len() >= 8 {
            break;
        }
    }
    let mut arxiv: Vec<PaperId> = items.iter().filter_map(|i| i.arxiv.clone()).collect();
    arxiv.sort();
    arxiv.dedup();
    Proposal {
        follow,
        keywords: out,
        arxiv,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_library() {
        let bib = r#"
@article{a1, author = {Lovelace, Ada and M{\"u}ller, J{\"u}rgen and Hopper, Grace}, title = {Sparse Mixture-of-Experts Routing}, keywords = {mixture of experts, sparsity}, eprint = {2503.21135}, archivePrefix = {arXiv}}
@inproceedings{a2, author = {Ada Lovelace and J. M{\"u}ller}, title = {Quantization of Sparse Experts}, keywords = {sparsity; quantization}}
@misc{a3, author = {Lovelace, Ada and Hopper, Grace}, title = {Routing Experts at Scale}, url = {https://arxiv.org/abs/2401.00001v2}}
@article{a4, author = {Lovelace, Ada and Turing, Alan}, title = {On Computable Numbers}, doi = {10.1112/plms/s2-42.1.230}}
@article{a5, author = {Okonkwo, Hannah C.}, title = {Sparse coding of odor identity}, doi = {10.1101/2025.03.20.644321}, journal = {bioRxiv}}
"#;
        let items = parse_bibtex(bib, &Limits::default()).unwrap();
        assert_eq!(items.len(), 5);
        // A bioRxiv preprint is known by its DOI; a journal DOI is not a paper paperboy sends.
        assert_eq!(
            items[4].arxiv.as_ref().map(PaperId::as_str),
            Some("10.1101/2025.03.20.644321")
        );
        assert!(items[3].arxiv.is_none());
        assert_eq!(items[0].authors[1], "Jürgen Müller");
        let mut reader = super::super::parse(
            "[[subscriber]]\nemail = \"ada@lab.org\"\nname = \"Ada Lovelace\"\ntopics = \"MoE\"\nkeywords = [\"quantization\"]\n",
            "subscribers.toml",
            std::path::Path::new("prompts"),
            &[],
        )
        .unwrap()
        .remove(0);
        reader.examples.clear();
        let p = propose(&items, &reader);
        let names: Vec<&str> = p.follow.iter().map(|(n, _)| n.as_str()).collect();
        assert!(names.contains(&"Grace Hopper"), "{names:?}");
        assert!(names.iter().any(|n| n.contains("Müller")), "{names:?}");
        assert!(
            !names.iter().any(|n| n.contains("Lovelace")),
            "never the reader"
        );
        assert!(
            !names.iter().any(|n| n.contains("Turing")),
            "once is not recurring"
        );
        assert!(
            p.keywords.contains(&"sparsity".to_string()),
            "{:?}",
            p.keywords
        );
        assert!(
            !p.keywords.contains(&"quantization".to_string()),
            "already had it"
        );
        assert!(
            p.keywords.contains(&"routing".to_string()),
            "{:?}",
            p.keywords
        );
        assert_eq!(p.arxiv.len(), 3);
        assert!(parse_bibtex("@article{x, title = {unclosed", &Limits::default()).is_err());
    }
}
