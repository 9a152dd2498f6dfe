use std::fmt;

/// A versionless arXiv identifier: new style `2503.21135` or old style `hep-th/9901001`.
///
/// Parsing accepts what feeds and models write around an ID (`arXiv:`, an `abs/` URL, a `vN`
/// suffix) and keeps only the versionless ID, so one paper is one key whatever its version.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct ArxivId(String);

impl TryFrom<String> for ArxivId {
    type Error = ArxivIdError;
    fn try_from(s: String) -> Result<ArxivId, ArxivIdError> {
        ArxivId::parse(&s)
    }
}

impl From<ArxivId> for String {
    fn from(id: ArxivId) -> String {
        id.0
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not an arXiv ID (expected something like 2503.21135 or hep-th/9901001)")]
pub struct ArxivIdError(pub String);

impl ArxivId {
    /// Parses an ID, returning it with its version (if one was given).
    pub fn parse_versioned(raw: &str) -> Result<(ArxivId, Option<u32>), ArxivIdError> {
        let err = || ArxivIdError(raw.to_string());
        let mut s = raw.trim();
        for prefix in ["https://", "http://"] {
            if let Some(rest) = s.strip_prefix(prefix) {
                s = rest;
            }
        }
        for prefix in ["arxiv.org/abs/", "arxiv.org/pdf/", "www.arxiv.org/abs/"] {
            if let Some(rest) = s.strip_prefix(prefix) {
                s = rest;
            }
        }
        if let Some(rest) = s.strip_prefix("oai:arXiv.org:") {
            s = rest;
        }
        if s.len() >= 6 && s[..6].eq_ignore_ascii_case("arxiv:") {
            s = &s[6..];
        }
        let (body, version) = match s.rfind('v') {
            Some(pos)
                if pos > 0
                    && s[pos + 1..].chars().all(|c| c.is_ascii_digit())
                    && pos + 1 < s.len() =>
            {
                let v: u32 = s[pos + 1..].parse().map_err(|_| err())?;
                (&s[..pos], Some(v))
            }
            _ => (s, None),
        };
        if is_new_style(body) || is_old_style(body) {
            Ok((ArxivId(body.to_string()), version))
        } else {
            Err(err())
        }
    }

    pub fn parse(raw: &str) -> Result<ArxivId, ArxivIdError> {
        Self::parse_versioned(raw).map(|(id, _)| id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn abs_url(&self) -> String {
        format!("https://arxiv.org/abs/{}", self.0)
    }

    pub fn pdf_url(&self) -> String {
        format!("https://arxiv.org/pdf/{}", self.0)
    }
}

/// `YYMM.NNNN` (2007–2014) or `YYMM.NNNNN` (2015 on).
fn is_new_style(s: &str) -> bool {
    let Some((yymm, num)) = s.split_once('.') else {
        return false;
    };
    yymm.len() == 4
        && yymm.chars().all(|c| c.is_ascii_digit())
        && (4..=5).contains(&num.len())
        && num.chars().all(|c| c.is_ascii_digit())
}

/// `archive(.SUBJ)/YYMMNNN`, e.g. `hep-th/9901001`, `math.GT/0309136`.
fn is_old_style(s: &str) -> bool {
    let Some((archive, num)) = s.split_once('/') else {
        return false;
    };
    !archive.is_empty()
        && archive
            .chars()
            .all(|c| c.is_ascii_alphabetic() || c == '-' || c == '.')
        && num.len() == 7
        && num.chars().all(|c| c.is_ascii_digit())
}

impl fmt::Display for ArxivId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_forms_feeds_and_models_write() {
        for raw in [
            "2503.21135",
            "2503.21135v1",
            "arXiv:2503.21135v12",
            "ARXIV:2503.21135",
            "oai:arXiv.org:2503.21135v3",
            "https://arxiv.org/abs/2503.21135",
            " 2503.21135 ",
        ] {
            assert_eq!(ArxivId::parse(raw).unwrap().as_str(), "2503.21135", "{raw}");
        }
        assert_eq!(
            ArxivId::parse_versioned("2503.21346v3").unwrap(),
            (ArxivId("2503.21346".into()), Some(3))
        );
        assert_eq!(
            ArxivId::parse("hep-th/9901001v2").unwrap().as_str(),
            "hep-th/9901001"
        );
        assert_eq!(ArxivId::parse("0704.0001").unwrap().as_str(), "0704.0001");
    }

    #[test]
    fn rejects_what_is_not_an_id() {
        for raw in [
            "",
            "2503",
            "2503.211",
            "25031.21135",
            "paper 3",
            "2503.21135v",
            "abc/123",
            "2503.21135vx",
        ] {
            assert!(ArxivId::parse(raw).is_err(), "{raw} should be rejected");
        }
    }
}
