//! Matching followed authors against a paper's authors, as people write names: TeX, accents,
//! case, middle names, initials and generational suffixes forgiven.

use unicode_normalization::UnicodeNormalization;

use super::Paper;

/// Whether any of `paper`'s authors is followed.
pub fn author_matches(paper: &Paper, followed: &[String]) -> bool {
    !followed_authors(paper, followed).is_empty()
}

/// `paper`'s authors (as the paper writes them) who are followed.
pub fn followed_authors(paper: &Paper, followed: &[String]) -> Vec<String> {
    let followed: Vec<Vec<String>> = followed
        .iter()
        .map(|f| name_tokens(f))
        .filter(|t| !t.is_empty())
        .collect();
    if followed.is_empty() {
        return Vec::new();
    }
    paper
        .authors
        .iter()
        .filter(|a| {
            let a = name_tokens(a);
            followed.iter().any(|f| same_person(f, &a))
        })
        .cloned()
        .collect()
}

/// Whether `author` is the person named `followed` (TeX, accents, case, middle names and a
/// first-name initial forgiven).
pub fn same_author(followed: &str, author: &str) -> bool {
    let f = name_tokens(followed);
    !f.is_empty() && same_person(&f, &name_tokens(author))
}

/// The surname as `same_author` compares it ("Björn W. Schuller" → "schuller"): names with
/// different surnames are never the same person, so it is a key to group names by.
pub fn surname_key(name: &str) -> Option<String> {
    name_tokens(name).pop()
}

/// Lowercased, accent-free name parts without parenthesised nicknames: "Björn W. Schuller" →
/// ["bjorn", "w", "schuller"]; `Bj\"orn` is already Unicode by the time it gets here.
fn name_tokens(name: &str) -> Vec<String> {
    let mut depth = 0;
    let mut plain = String::new();
    for c in crate::support::tex::to_unicode(name).nfkd() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ if depth > 0 => {}
            c if unicode_normalization::char::is_combining_mark(c) => {}
            c => plain.push(c),
        }
    }
    let mut tokens: Vec<String> = plain
        .to_lowercase()
        .split(|c: char| c.is_whitespace() || c == '.' || c == ',')
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    // "H. Okonkwo Jr." is H. Okonkwo: generational suffixes are not the surname.
    while tokens.len() > 2
        && matches!(
            tokens.last().map(String::as_str),
            Some("jr" | "sr" | "ii" | "iii" | "iv")
        )
    {
        tokens.pop();
    }
    tokens
}

/// Same last name, and the same first name, or an initial of it on either side (bioRxiv writes
/// `Okonkwo, H. C.`, shown as "H. C. Okonkwo": following "Hannah Okonkwo" finds it, not
/// "P. Okonkwo"). Middle names are ignored: following "Björn Schuller" finds "Björn W. Schuller".
fn same_person(followed: &[String], author: &[String]) -> bool {
    let (Some(fl), Some(al)) = (followed.last(), author.last()) else {
        return false;
    };
    if fl != al {
        return false;
    }
    match (followed.len(), author.len()) {
        (1, _) => true,
        (_, 1) => false,
        _ => {
            let (ff, af) = (&followed[0], &author[0]);
            ff == af
                || (ff.chars().count() == 1 && af.starts_with(ff.as_str()))
                || (af.chars().count() == 1 && ff.starts_with(af.as_str()))
        }
    }
}
