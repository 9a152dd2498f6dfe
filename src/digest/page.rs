//! What a day's digest showed, kept with its delivery for the web archive. Stored small: papers
//! by ID (their text is in the papers table already), verdicts and counts in full.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{Digest, Entry, Unscored};
use crate::domain::Subscriber;
use crate::domain::{Paper, PaperId, Verdict};
use crate::store::spend::Totals;

/// What a day's digest showed, stored with its delivery so the web archive shows the same data
/// without scoring again.
#[derive(Debug, Clone)]
pub struct Page {
    pub day: NaiveDate,
    pub entries: Vec<Entry>,
    pub more: Vec<Entry>,
    pub usage: Vec<Totals>,
    pub total_papers: usize,
    pub scanned: usize,
    pub unscored: Vec<Unscored>,
    pub model: String,
    pub keyword_scorer: bool,
    /// A weekly digest: the day after which its papers count.
    pub since: Option<NaiveDate>,
    /// The sources the reader read that day (empty on pages stored before sources existed).
    pub sources: Vec<crate::domain::Source>,
}

impl Page {
    /// The digest this page was, for `subscriber` (as they are now), without mail addresses.
    pub fn into_digest(self, subscriber: Subscriber) -> Digest {
        let mut sources = self.sources.clone();
        if sources.is_empty() {
            sources = self.entries.iter().map(|e| e.paper.source).collect();
            sources.sort();
            sources.dedup();
        }
        Digest {
            day: self.day,
            sources,
            unread: Vec::new(),
            subscriber,
            entries: self.entries,
            more: self.more,
            usage: self.usage,
            total_papers: self.total_papers,
            scanned: self.scanned,
            unscored: self.unscored,
            model: self.model,
            keyword_scorer: self.keyword_scorer,
            contact: String::new(),
            reply: None,
            archive_url: None,
            feed_url: None,
            since: self.since,
            taught: Default::default(),
        }
    }
}

/// A [`Page`] as stored (JSON in `deliveries.page`): papers by ID.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredPage {
    pub day: NaiveDate,
    pub entries: Vec<StoredEntry>,
    pub more: Vec<StoredEntry>,
    pub usage: Vec<Totals>,
    pub total_papers: usize,
    pub scanned: usize,
    pub unscored: Vec<(PaperId, crate::domain::problem::Problem)>,
    pub model: String,
    pub keyword_scorer: bool,
    #[serde(default)]
    pub since: Option<NaiveDate>,
    #[serde(default)]
    pub sources: Vec<crate::domain::Source>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredEntry {
    pub id: PaperId,
    pub verdict: Option<Verdict>,
    pub author_match: bool,
    #[serde(default)]
    pub followed: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namesakes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announced: Option<NaiveDate>,
    /// The rank it was shown with (pages stored before ranks have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank: Option<crate::scoring::rank::Rank>,
}

impl StoredPage {
    pub fn of(d: &Digest) -> StoredPage {
        let entry = |e: &Entry| StoredEntry {
            id: e.paper.id.clone(),
            verdict: e.verdict.clone(),
            author_match: e.author_match,
            followed: e.followed.clone(),
            namesakes: e.namesakes.clone(),
            announced: e.announced,
            rank: e.rank.clone(),
        };
        StoredPage {
            day: d.day,
            entries: d.entries.iter().map(entry).collect(),
            more: d.more.iter().map(entry).collect(),
            usage: d.usage.clone(),
            total_papers: d.total_papers,
            scanned: d.scanned,
            unscored: d
                .unscored
                .iter()
                .map(|u| (u.paper.id.clone(), u.reason.clone()))
                .collect(),
            model: d.model.clone(),
            keyword_scorer: d.keyword_scorer,
            since: d.since,
            sources: d.sources.clone(),
        }
    }

    /// Every paper the page names (shown, past the cap, or still being scored).
    pub fn paper_ids(&self) -> Vec<PaperId> {
        self.entries
            .iter()
            .chain(&self.more)
            .map(|e| e.id.clone())
            .chain(self.unscored.iter().map(|(id, _)| id.clone()))
            .collect()
    }

    /// The page with its papers from `papers` (as stored; a weekly digest or owed papers span
    /// several days). A paper no longer stored is left out rather than shown empty.
    pub fn with_papers(self, papers: &HashMap<PaperId, Paper>) -> Page {
        let entry = |e: StoredEntry| {
            papers.get(&e.id).map(|p| Entry {
                paper: p.clone(),
                verdict: e.verdict,
                rank: e.rank,
                author_match: e.author_match,
                followed: e.followed,
                namesakes: e.namesakes,
                announced: e.announced,
            })
        };
        Page {
            day: self.day,
            entries: self.entries.into_iter().filter_map(entry).collect(),
            more: self.more.into_iter().filter_map(entry).collect(),
            usage: self.usage,
            total_papers: self.total_papers,
            scanned: self.scanned,
            unscored: self
                .unscored
                .into_iter()
                .filter_map(|(id, reason)| {
                    papers.get(&id).map(|p| Unscored {
                        paper: p.clone(),
                        reason,
                    })
                })
                .collect(),
            model: self.model,
            keyword_scorer: self.keyword_scorer,
            since: self.since,
            sources: self.sources,
        }
    }
}
