use std::fmt;

/// A relevance or novelty score, an integer from 1 to 10.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "i64", into = "i64")]
pub struct Score(u8);

impl TryFrom<i64> for Score {
    type Error = ScoreError;
    fn try_from(v: i64) -> Result<Score, ScoreError> {
        Score::new(v)
    }
}

impl From<Score> for i64 {
    fn from(s: Score) -> i64 {
        s.0 as i64
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("score {0} is outside 1–10")]
pub struct ScoreError(pub i64);

impl Score {
    pub fn new(value: i64) -> Result<Score, ScoreError> {
        if (1..=10).contains(&value) {
            Ok(Score(value as u8))
        } else {
            Err(ScoreError(value))
        }
    }

    /// Clamps into 1–10 (for scores we compute ourselves, never for model output).
    pub fn clamped(value: i64) -> Score {
        Score(value.clamp(1, 10) as u8)
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

impl fmt::Display for Score {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What the scorer said about one paper for one reader profile.
/// `novelty` is `None` when the scorer cannot judge it (the keyword scorer).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Verdict {
    pub relevance: Score,
    pub novelty: Option<Score>,
    pub comment: String,
    /// One sentence in the reader's language (papers that pass or nearly pass).
    #[serde(default)]
    pub tldr: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_to_ten() {
        assert!(Score::new(0).is_err());
        assert!(Score::new(11).is_err());
        assert_eq!(Score::new(1).unwrap().get(), 1);
        assert_eq!(Score::new(10).unwrap().get(), 10);
        assert_eq!(Score::clamped(42).get(), 10);
        assert_eq!(Score::clamped(-3).get(), 1);
    }
}
