//! bioRxiv and medRxiv for a run: each server and subject is read from the day after its last
//! complete read through the day before the run's day (they post every day, weekends too). A
//! server that fails holds nobody else up: its window stays open and the next run reads it.

use std::collections::HashSet;

use chrono::{Duration, NaiveDate};

use super::App;
use crate::domain::problem::{Kind, Problem};
use crate::domain::{Category, Paper, PaperId, Source};

/// What the preprint servers gave a run.
#[derive(Default)]
pub struct Read {
    /// Papers new to paperboy.
    pub papers: Vec<Paper>,
    /// Newer versions of papers listed on an earlier day: stored, never listed again.
    pub revisions: Vec<Paper>,
    /// Subjects read completely, through which day (recorded with the papers).
    pub marks: Vec<(Category, NaiveDate)>,
    /// Servers that could not be read, with why.
    pub failed: Vec<(Source, Problem)>,
}

impl Read {
    /// One problem naming every server that failed (for the run record and the alert).
    pub fn problem(&self) -> Option<Problem> {
        if self.failed.is_empty() {
            return None;
        }
        let detail = self
            .failed
            .iter()
            .map(|(s, p)| format!("{} could not be read: {p}", s.name()))
            .collect::<Vec<_>>()
            .join("; ");
        Some(Problem::new(Kind::PreprintUnavailable, detail))
    }
}

/// Reads every configured server's open windows up to the day before `day`.
pub async fn read(app: &App, day: NaiveDate) -> anyhow::Result<Read> {
    let mut out = Read::default();
    let mut found: Vec<Paper> = Vec::new();
    let to = day - Duration::days(1);
    for (source, config) in app.config.preprints() {
        for name in &config.categories {
            let Ok(category) = Category::subject(source, name) else {
                continue; // refused by the config check before any run
            };
            let last = app.store.read_to(&category).await?;
            let from = match last {
                Some(last) => last + Duration::days(1),
                None => {
                    // A first read opens the window where it starts, so a failure now still
                    // has the next run start there.
                    let from = day - Duration::days(i64::from(config.catch_up_days.max(1)));
                    app.store
                        .mark_read(&category, from - Duration::days(1))
                        .await?;
                    from
                }
            };
            if from > to {
                continue;
            }
            tracing::info!(server = source.name(), %category, %from, %to, "reading preprints");
            match app.preprints.read(config, &category, from, to).await {
                Ok(window) => {
                    for r in &window.rejected {
                        tracing::warn!(server = source.name(), record = %r, "skipped an unreadable record");
                    }
                    tracing::info!(server = source.name(), %category, papers = window.papers.len(), pages = window.pages, "read");
                    found.extend(window.papers);
                    out.marks.push((category, to));
                }
                Err(e) => {
                    tracing::error!(server = source.name(), error = %e, "could not read; the window stays open for the next run");
                    out.failed.push((source, e.problem()));
                    break; // the server's other subjects wait for the next run too
                }
            }
        }
    }
    // A paper in two subjects is one paper, with both.
    let found = crate::domain::merge_duplicates(found);
    let ids: Vec<PaperId> = found.iter().map(|p| p.id.clone()).collect();
    let elsewhere = app.store.announced_elsewhere(ids, day).await?;
    (out.revisions, out.papers) = found.into_iter().partition(|p| elsewhere.contains(&p.id));
    Ok(out)
}

/// Stores what was read and moves the windows on, in one step after the day's papers are
/// stored (a crash before leaves the windows open: read again, nothing listed twice).
pub async fn record(app: &App, read: &Read) -> anyhow::Result<()> {
    app.store
        .save_preprint_reads(read.revisions.clone(), read.marks.clone())
        .await
}

/// Preprints stored for `day` by an earlier run of it (their windows are read once): they
/// belong to the day's announcement like its arXiv papers.
pub async fn stored(
    app: &App,
    day: NaiveDate,
    have: HashSet<PaperId>,
) -> anyhow::Result<Vec<Paper>> {
    let all = app.store.announced_papers(day).await?;
    Ok(all
        .into_iter()
        .filter(|p| p.source != Source::Arxiv && !have.contains(&p.id))
        .collect())
}
