use std::fmt;

/// An arXiv category such as `cs.LG`, `stat.ML`, `math.OC` or `hep-th`.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Category(String);

impl TryFrom<String> for Category {
    type Error = CategoryError;
    fn try_from(s: String) -> Result<Category, CategoryError> {
        Category::parse(&s)
    }
}

impl From<Category> for String {
    fn from(c: Category) -> String {
        c.0
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not an arXiv category (expected something like cs.LG, stat.ML or hep-th)")]
pub struct CategoryError(pub String);

impl Category {
    pub fn parse(raw: &str) -> Result<Category, CategoryError> {
        let s = raw.trim();
        let (archive, subject) = match s.split_once('.') {
            Some((a, b)) => (a, Some(b)),
            None => (s, None),
        };
        let archive_ok = !archive.is_empty()
            && archive
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase())
            && archive.chars().all(|c| c.is_ascii_lowercase() || c == '-');
        let subject_ok = subject.is_none_or(|b| {
            !b.is_empty() && b.chars().all(|c| c.is_ascii_alphabetic() || c == '-')
        });
        if archive_ok && subject_ok {
            Ok(Category(s.to_string()))
        } else {
            Err(CategoryError(raw.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_real_categories() {
        for c in [
            "cs.LG",
            "cs.AI",
            "stat.ML",
            "math.OC",
            "hep-th",
            "q-bio.NC",
            "astro-ph.CO",
        ] {
            assert_eq!(Category::parse(c).unwrap().as_str(), c);
        }
    }

    #[test]
    fn rejects_nonsense() {
        for c in ["", "cs.", ".LG", "CS.LG", "cs LG", "cs.LG+cs.AI", "cs/LG"] {
            assert!(Category::parse(c).is_err(), "{c}");
        }
    }
}
