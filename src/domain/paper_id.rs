use std::fmt;

use super::ArxivId;

/// A paper's key whatever its source: an arXiv ID, or the DOI bioRxiv and medRxiv give every
/// preprint (`10.1101/2025.03.20.644321`). Versionless, so a v2 is the same paper.
///
/// Stored and written to the model as the bare ID; parsing tells the two apart (an arXiv ID
/// never starts with `10.` and a slash-free registrant), so neither needs a prefix.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub enum PaperId {
    Arxiv(ArxivId),
    Doi(Doi),
}

/// A DOI, lower-cased (DOIs are case-insensitive), without `doi:`, resolver URL or version.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Doi(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "`{0}` is not a paper ID (expected an arXiv ID such as 2503.21135 or a DOI such as 10.1101/2025.03.20.644321)"
)]
pub struct PaperIdError(pub String);

impl Doi {
    /// Parses a DOI as feeds, models and readers write it, with its version when a preprint
    /// URL carries one (`…644321v2`).
    pub fn parse_versioned(raw: &str) -> Result<(Doi, Option<u32>), PaperIdError> {
        let err = || PaperIdError(raw.to_string());
        let mut s = raw.trim();
        for prefix in [
            "https://doi.org/",
            "http://doi.org/",
            "https://dx.doi.org/",
            "http://dx.doi.org/",
            "https://www.biorxiv.org/content/",
            "https://www.medrxiv.org/content/",
            "doi:",
            "DOI:",
        ] {
            if let Some(rest) = s.strip_prefix(prefix) {
                s = rest.trim();
            }
        }
        let decoded = s.replace("%2F", "/").replace("%2f", "/");
        let s = decoded
            .trim_end_matches('/')
            .trim_end_matches(".full.pdf")
            .trim_end_matches(".full");
        let (registrant, suffix) = s.split_once('/').ok_or_else(err)?;
        let registrant_ok = registrant
            .strip_prefix("10.")
            .is_some_and(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_digit() || c == '.'));
        // Crossref's advice for matching DOIs: letters, digits and `-._;()/:`.
        if !registrant_ok
            || suffix.is_empty()
            || !suffix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._;()/:".contains(c))
        {
            return Err(err());
        }
        let mut suffix = suffix.to_lowercase();
        let mut version = None;
        // bioRxiv and medRxiv put the version after the DOI in their URLs.
        if registrant == "10.1101" {
            if let Some(pos) = suffix.rfind('v') {
                let digits = &suffix[pos + 1..];
                if pos > 0 && !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
                    version = digits.parse().ok();
                    suffix.truncate(pos);
                }
            }
        }
        Ok((Doi(format!("{registrant}/{suffix}")), version))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl PaperId {
    pub fn parse(raw: &str) -> Result<PaperId, PaperIdError> {
        if let Ok(id) = ArxivId::parse(raw) {
            return Ok(PaperId::Arxiv(id));
        }
        Doi::parse_versioned(raw).map(|(d, _)| PaperId::Doi(d))
    }

    pub fn as_str(&self) -> &str {
        match self {
            PaperId::Arxiv(id) => id.as_str(),
            PaperId::Doi(d) => d.as_str(),
        }
    }
}

impl From<ArxivId> for PaperId {
    fn from(id: ArxivId) -> PaperId {
        PaperId::Arxiv(id)
    }
}

impl From<Doi> for PaperId {
    fn from(d: Doi) -> PaperId {
        PaperId::Doi(d)
    }
}

impl TryFrom<String> for PaperId {
    type Error = PaperIdError;
    fn try_from(s: String) -> Result<PaperId, PaperIdError> {
        PaperId::parse(&s)
    }
}

impl From<PaperId> for String {
    fn from(id: PaperId) -> String {
        id.as_str().to_string()
    }
}

impl fmt::Display for PaperId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Doi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_arxiv_ids_from_dois() {
        assert!(matches!(
            PaperId::parse("2503.21135v2").unwrap(),
            PaperId::Arxiv(_)
        ));
        assert!(matches!(
            PaperId::parse("hep-th/9901001").unwrap(),
            PaperId::Arxiv(_)
        ));
        let doi = PaperId::parse("10.1101/2025.03.20.644321").unwrap();
        assert!(matches!(doi, PaperId::Doi(_)));
        assert_eq!(doi.as_str(), "10.1101/2025.03.20.644321");
    }

    #[test]
    fn dois_are_read_as_models_and_readers_write_them() {
        for raw in [
            "10.1101/2025.03.20.644321",
            "doi:10.1101/2025.03.20.644321",
            "https://doi.org/10.1101/2025.03.20.644321",
            "https://www.biorxiv.org/content/10.1101/2025.03.20.644321v2",
            "https://www.medrxiv.org/content/10.1101/2025.03.20.644321v1.full.pdf",
            "https://doi.org/10.1101%2F2025.03.20.644321",
            "10.1101/2025.03.20.644321/",
        ] {
            assert_eq!(
                PaperId::parse(raw).unwrap().as_str(),
                "10.1101/2025.03.20.644321",
                "{raw}"
            );
        }
        assert_eq!(
            Doi::parse_versioned("10.1101/2025.03.20.644321v3")
                .unwrap()
                .1,
            Some(3)
        );
        assert_eq!(
            PaperId::parse("10.1038/NATURE12373").unwrap().as_str(),
            "10.1038/nature12373"
        );
    }

    #[test]
    fn rejects_what_is_neither() {
        for raw in [
            "",
            "10.1101",
            "10./x",
            "11.1101/abc",
            "10.1101/a b",
            "sparse attention",
        ] {
            assert!(PaperId::parse(raw).is_err(), "{raw}");
        }
    }
}
