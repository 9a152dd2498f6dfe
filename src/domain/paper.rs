use super::{ArxivId, Category};

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
    pub id: ArxivId,
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
    pub fn abs_url(&self) -> String {
        self.id.abs_url()
    }
}
