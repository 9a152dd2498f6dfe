//! A reader's BibTeX/BibLaTeX export read as what matters to paperboy (titles, authors,
//! keywords, arXiv IDs and preprint DOIs), within limits: it is text from a stranger's mail.
//!
//! The `biblatex` crate resolves `@string` macros lazily and recursively, and follows `crossref`
//! chains recursively: a 1 KB file of doubling `@string`s expands to terabytes, a macro or
//! crossref cycle recurses until the stack is gone. So the file is first read raw (linear, no
//! expansion), measured (size, entries, brace depth, what each kept field would expand to, how
//! deep its macros go) and refused with the line at fault when over a limit; only the fields used
//! here are kept (no `crossref`/`xdata`, so no chains), a repeated key keeps its first entry, and
//! only then are macros resolved.

use std::collections::HashMap;

use biblatex::{Bibliography, ChunksExt as _, Field, RawBibliography, RawChunk};

use crate::domain::{ArxivId, Doi, PaperId};

/// How much of a library is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The file's size in bytes.
    pub bytes: usize,
    pub entries: usize,
    /// Braces inside braces (an entry's own brace is 1; `{{B}ERT}` in a title is 3).
    pub depth: usize,
    /// What one field may expand to through `@string` macros, in bytes.
    pub field_bytes: usize,
    /// Macros inside macros.
    pub macro_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            bytes: 32 * 1024 * 1024,
            entries: 100_000,
            depth: 32,
            field_bytes: 64 * 1024,
            macro_depth: 32,
        }
    }
}

/// The fields read; the rest of an entry is dropped before macros are resolved.
const KEPT: &[&str] = &[
    "title",
    "author",
    "keywords",
    "eprint",
    "eprinttype",
    "archiveprefix",
    "url",
    "doi",
];

/// One entry as far as interests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub title: String,
    /// "Given Last", TeX resolved.
    pub authors: Vec<String>,
    pub keywords: Vec<String>,
    /// Its arXiv ID, or its DOI when it is a bioRxiv/medRxiv preprint (10.1101/…).
    pub arxiv: Option<PaperId>,
}

/// Reads a BibTeX/BibLaTeX file within `limits`; an error names the line at fault.
pub fn parse_bibtex(text: &str, limits: &Limits) -> Result<Vec<Item>, String> {
    if text.len() > limits.bytes {
        return Err(format!(
            "the file is {:.1} MB; paperboy reads libraries of at most {} MB",
            text.len() as f64 / 1_048_576.0,
            limits.bytes / 1_048_576
        ));
    }
    let text = &*crate::support::text::clean(text);
    let line_of = |at: usize| {
        text.as_bytes()[..at.min(text.len())]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    };
    check_depth(text, limits.depth).map_err(|at| {
        format!(
            "line {}: braces nested more than {} deep",
            line_of(at),
            limits.depth
        )
    })?;
    let mut raw = RawBibliography::parse(text)
        .map_err(|e| format!("line {}: {}", line_of(e.span.start), e.kind))?;
    if raw.entries.len() > limits.entries {
        return Err(format!(
            "{} entries; paperboy reads libraries of at most {}",
            raw.entries.len(),
            limits.entries
        ));
    }
    let mut keys = std::collections::HashSet::new();
    raw.entries.retain(|e| keys.insert(e.v.key.v));
    for entry in &mut raw.entries {
        entry
            .v
            .fields
            .retain(|p| KEPT.iter().any(|k| p.key.v.eq_ignore_ascii_case(k)));
    }
    let mut macros = Macros::new(&raw, limits);
    for entry in &raw.entries {
        for pair in &entry.v.fields {
            let cost = macros
                .field(&pair.value.v, 0)
                .map_err(|why| format!("line {}: {why}", line_of(pair.value.span.start)))?;
            if cost.bytes > limits.field_bytes {
                return Err(format!(
                    "line {}: the field {} of entry {} expands to more than {} KB through @string macros",
                    line_of(pair.value.span.start),
                    pair.key.v,
                    entry.v.key.v,
                    limits.field_bytes / 1024
                ));
            }
        }
    }
    let bib = Bibliography::from_raw(raw)
        .map_err(|e| format!("line {}: {}", line_of(e.span.start), e.kind))?;
    let mut items = Vec::new();
    for entry in bib.iter() {
        let title = entry
            .title()
            .map(|t| crate::support::tex::to_unicode(&t.format_verbatim()))
            .unwrap_or_default();
        let authors = entry
            .author()
            .unwrap_or_default()
            .iter()
            .map(|p| {
                let name = format!("{} {} {}", p.given_name, p.prefix, p.name);
                crate::support::tex::to_unicode(
                    &name.split_whitespace().collect::<Vec<_>>().join(" "),
                )
            })
            .filter(|n| !n.is_empty())
            .collect();
        let keywords = entry
            .keywords()
            .map(|k| {
                k.format_verbatim()
                    .split([',', ';'])
                    .map(|w| w.trim().to_lowercase())
                    .filter(|w| !w.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let arxiv = entry
            .eprint()
            .ok()
            .and_then(|e| ArxivId::parse(&e).ok())
            .or_else(|| {
                entry
                    .url()
                    .ok()
                    .filter(|u| u.contains("arxiv.org/"))
                    .and_then(|u| ArxivId::parse(&u).ok())
            })
            .map(PaperId::from)
            .or_else(|| {
                entry
                    .doi()
                    .ok()
                    .and_then(|d| Doi::parse_versioned(&d).ok())
                    .filter(|(d, _)| d.as_str().starts_with("10.1101/"))
                    .map(|(d, _)| PaperId::Doi(d))
            });
        items.push(Item {
            title,
            authors,
            keywords,
            arxiv,
        });
    }
    Ok(items)
}

/// The byte offset where braces first nest deeper than `max`, if they do. A backslash escapes
/// the character after it, as in BibTeX.
fn check_depth(text: &str, max: usize) -> Result<(), usize> {
    let (mut depth, mut escaped) = (0usize, false);
    for (at, b) in text.bytes().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' => escaped = true,
            b'{' => {
                depth += 1;
                if depth > max {
                    return Err(at);
                }
            }
            b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// What a field would cost once its macros are resolved: bytes, pieces visited, and how deep
/// the macros go (biblatex resolves them by recursion).
#[derive(Debug, Clone, Copy, Default)]
struct Cost {
    bytes: usize,
    pieces: usize,
    depth: usize,
}

/// The `@string` macros, each measured once (memoised), cycles and deep chains refused.
struct Macros<'a, 's> {
    defs: HashMap<&'s str, &'a Field<'s>>,
    known: HashMap<&'s str, Cost>,
    limits: &'a Limits,
}

impl<'a, 's> Macros<'a, 's> {
    fn new(raw: &'a RawBibliography<'s>, limits: &'a Limits) -> Self {
        let mut m = Macros {
            defs: raw
                .abbreviations
                .iter()
                .map(|p| (p.key.v, &p.value.v))
                .collect(),
            known: HashMap::new(),
            limits,
        };
        // In the order written: each definition refers to earlier ones, already measured, so
        // measuring stays shallow however long the chain.
        for p in &raw.abbreviations {
            let _ = m.name(p.key.v, 0);
        }
        m
    }

    fn field(&mut self, field: &Field<'s>, depth: usize) -> Result<Cost, String> {
        let mut cost = Cost::default();
        for chunk in field {
            let c = match chunk.v {
                RawChunk::Normal(s) => Cost {
                    bytes: s.len(),
                    pieces: 1,
                    depth: 0,
                },
                RawChunk::Abbreviation(name) => self.name(name, depth + 1)?,
            };
            cost.bytes = cost.bytes.saturating_add(c.bytes);
            cost.pieces = cost.pieces.saturating_add(c.pieces);
            cost.depth = cost.depth.max(c.depth);
            if cost.bytes > self.limits.field_bytes || cost.pieces > self.limits.field_bytes {
                return Err(format!(
                    "@string macros expand to more than {} KB",
                    self.limits.field_bytes / 1024
                ));
            }
        }
        Ok(cost)
    }

    fn name(&mut self, name: &'s str, depth: usize) -> Result<Cost, String> {
        if let Some(c) = self.known.get(name) {
            return Ok(*c);
        }
        if depth > self.limits.macro_depth {
            return Err(format!(
                "the @string {name} refers to itself or nests more than {} macros deep",
                self.limits.macro_depth
            ));
        }
        let Some(def) = self.defs.get(name).copied() else {
            // A month (jan, feb, …) or an unknown name: one short piece either way (biblatex
            // reports an unknown one itself).
            return Ok(Cost {
                bytes: 9,
                pieces: 1,
                depth: 1,
            });
        };
        let mut c = self.field(def, depth)?;
        c.depth += 1;
        c.pieces += 1;
        if c.depth > self.limits.macro_depth {
            return Err(format!(
                "the @string {name} nests more than {} macros deep",
                self.limits.macro_depth
            ));
        }
        self.known.insert(name, c);
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Vec<Item>, String> {
        parse_bibtex(text, &Limits::default())
    }

    #[test]
    fn doubling_strings_are_refused_before_anything_expands() {
        let mut bib = String::from("@string{a0 = \"ab\"}\n");
        for n in 1..=40 {
            bib.push_str(&format!("@string{{a{n} = a{} # a{}}}\n", n - 1, n - 1));
        }
        bib.push_str("@article{x, title = a40}\n");
        let why = read(&bib).unwrap_err();
        assert!(
            why.contains("@string macros expand to more than 64 KB"),
            "{why}"
        );
        assert!(why.starts_with("line 42:"), "names the field's line: {why}");
        // Doubling empty strings expands to nothing, yet costs 2^40 steps: refused too.
        let empty = bib.replace("\"ab\"", "\"\"");
        assert!(read(&empty).is_err());
    }

    #[test]
    fn macro_and_crossref_cycles_end_with_an_error_or_a_result() {
        let cycle = "@string{a = b}\n@string{b = a}\n@article{x, title = a}\n";
        let why = read(cycle).unwrap_err();
        assert!(why.contains("refers to itself"), "{why}");
        let selfref = "@string{a = \"x\" # a}\n@article{x, title = a}\n";
        assert!(read(selfref).is_err());
        // biblatex would follow these crossrefs forever; they are not read.
        let crossref =
            "@article{a, title = {A}, crossref = {b}}\n@article{b, title = {B}, crossref = {a}}\n";
        let items = read(crossref).unwrap();
        assert_eq!(items.len(), 2);
        // A long chain written in order measures shallowly, then is refused as too deep.
        let mut chain = String::from("@string{c0 = \"x\"}\n");
        for n in 1..=5000 {
            chain.push_str(&format!("@string{{c{n} = c{}}}\n", n - 1));
        }
        chain.push_str("@article{x, title = c5000}\n");
        assert!(read(&chain).unwrap_err().contains("macros deep"));
        // Months and short macros are what real files use.
        let ok = "@string{jmlr = \"Journal of Machine Learning Research\"}\n@article{x, title = {Sparse} # { } # jmlr, month = jan}\n";
        assert_eq!(
            read(ok).unwrap()[0].title,
            "Sparse Journal of Machine Learning Research"
        );
    }

    #[test]
    fn deep_braces_big_files_and_repeated_keys() {
        let deep = format!(
            "@article{{x, title = {}{}}}\n",
            "{".repeat(200_000),
            "}".repeat(200_000)
        );
        let why = read(&deep).unwrap_err();
        assert!(why.contains("braces nested more than 32 deep"), "{why}");
        let small = Limits {
            bytes: 100,
            entries: 2,
            ..Limits::default()
        };
        assert!(parse_bibtex(&"%".repeat(101), &small)
            .unwrap_err()
            .contains("at most"));
        let three = "@misc{a, title={A}}\n@misc{b, title={B}}\n@misc{c, title={C}}\n";
        assert!(parse_bibtex(three, &small)
            .unwrap_err()
            .contains("3 entries"));
        // A key written twice (two exports pasted together) keeps its first entry.
        let twice = "@misc{a, title={First}}\n@misc{a, title={Second}}\n@misc{b, title={B}}\n";
        let items = read(twice).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].title, "First");
        // Escaped braces are text, not nesting.
        let escaped = format!("@misc{{e, title = {{{}}}}}\n", "\\{".repeat(100));
        assert!(read(&escaped).is_ok());
    }
}
