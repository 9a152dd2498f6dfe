//! Selecting and scoring: each subscriber's candidates (the day's papers in their categories, and
//! papers owed from earlier runs), one scoring pass for the whole group, and the digests.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;

use super::{reply_addresses, App, Prepared, Progress};
use crate::digest::{self, Digest, Unscored};
use crate::domain::problem::Problem;
use crate::domain::{AnnounceType, Category, Paper, PaperId, Source, Verdict};
use crate::domain::{Subscriber, SubscriberEmail};
use crate::scoring::{Job, JobResult};
use crate::sources::arxiv::Announcement;
use crate::store::{deliveries, verdicts};

/// Selects, scores (what no stored verdict covers) and renders the digests of `subscribers` for
/// the announcement. Papers already sent to a subscriber are left out, except those sent on
/// `resend_day` (for previews of a day already delivered).
pub async fn prepare(
    app: &App,
    run_id: i64,
    subscribers: &[Subscriber],
    announcement: &Announcement,
    resend_day: Option<NaiveDate>,
    progress: &dyn Progress,
) -> anyhow::Result<Vec<Prepared>> {
    let day = Day {
        app,
        run_id,
        announcement,
        resend_day,
        wanted_types: app.config.announce_types(),
        config_categories: app.config.categories(),
        owed: owed_papers(app, subscribers).await?,
        week: week_papers(app, subscribers, announcement.day).await?,
    };

    // 1. Plan: candidates and cached verdicts per subscriber.
    let mut plans = Vec::new();
    for sub in subscribers {
        plans.push(day.plan(sub).await?);
    }

    // 2. Score what no stored verdict covers, once per distinct reader profile.
    let results = score_plans(app, run_id, &plans, progress).await?;

    // 3. Select each digest's papers; a TL;DR once per paper and language for what is shown.
    let mut seen = HashSet::new();
    let run_papers: Vec<&Paper> = plans
        .iter()
        .flat_map(|p| p.candidates.iter().copied())
        .filter(|p| seen.insert(&p.id))
        .collect();
    let day_vectors = app.scorer.day_vectors(&app.store, &run_papers).await?;
    let mut selected: Vec<Selected> = Vec::new();
    for mut plan in plans {
        let merged = Merged::of(
            &plan.candidates,
            std::mem::take(&mut plan.cached),
            results.get(&plan.subscriber.profile_hash()),
        );
        let ranks = ranks_of(app, &plan, &merged.verdicts, day_vectors.as_ref()).await?;
        let mut selection = digest::select(
            plan.candidates.iter().copied(),
            &merged.verdicts,
            &ranks,
            &plan.subscriber,
        );
        if selection.entries.iter().any(|e| !e.followed.is_empty()) {
            let email = plan.subscriber.email.clone();
            let library = app
                .store
                .library_papers(vec![email.clone()], crate::store::library::MAX_LIBRARY)
                .await?;
            if let Some(papers) = library.get(&email) {
                digest::mark_namesakes(&mut selection, papers);
            }
        }
        selected.push(Selected {
            plan,
            merged,
            selection,
        });
    }
    let tldrs = tldrs_of(app, run_id, &selected).await?;

    // 4. Build each digest.
    let mut out = Vec::new();
    for mut s in selected {
        let language = s.plan.subscriber.language.name().to_string();
        for e in &mut s.selection.entries {
            if let (Some(v), Some(t)) = (
                e.verdict.as_mut(),
                tldrs.get(&(e.paper.id.clone(), language.clone())),
            ) {
                v.tldr = Some(t.clone());
            }
        }
        out.push(day.prepared(s).await?);
    }
    Ok(out)
}

/// The ranks of the papers that pass `plan`'s reader's thresholds.
async fn ranks_of(
    app: &App,
    plan: &Plan<'_>,
    verdicts: &HashMap<PaperId, Verdict>,
    day: Option<&crate::scoring::rank::DayVectors>,
) -> anyhow::Result<HashMap<PaperId, crate::scoring::rank::Rank>> {
    let sub = &plan.subscriber;
    let passed: Vec<(&Paper, &Verdict)> = plan
        .candidates
        .iter()
        .filter_map(|p| verdicts.get(&p.id).map(|v| (*p, v)))
        .filter(|(p, v)| sub.passes(v) || crate::domain::author_matches(p, &sub.authors))
        .collect();
    if passed.is_empty() {
        return Ok(HashMap::new());
    }
    let vectors = app.scorer.ranking_vectors(&app.store, sub, day).await?;
    Ok(crate::scoring::rank::rank(
        sub,
        &plan.candidates,
        &passed,
        vectors.as_ref(),
    ))
}

/// One reader's plan with its verdicts merged and its papers selected.
struct Selected<'a> {
    plan: Plan<'a>,
    merged: Merged,
    selection: digest::Selection,
}

/// The TL;DRs of the papers shown in full with a verdict, per language (stored or written now),
/// when the scorer writes them.
async fn tldrs_of(
    app: &App,
    run_id: i64,
    selected: &[Selected<'_>],
) -> anyhow::Result<crate::scoring::tldr::Tldrs> {
    if !app.scorer.writes_tldrs() {
        return Ok(Default::default());
    }
    let mut wanted: HashMap<(PaperId, String), crate::scoring::tldr::TldrWanted> = HashMap::new();
    for s in selected {
        let sub = &s.plan.subscriber;
        let language = sub.language.name().to_string();
        for e in s.selection.entries.iter().filter(|e| e.verdict.is_some()) {
            let Some(paper) = s.plan.candidates.iter().find(|p| p.id == e.paper.id) else {
                continue;
            };
            wanted
                .entry((e.paper.id.clone(), language.clone()))
                .or_insert_with(|| crate::scoring::tldr::TldrWanted {
                    paper,
                    language: language.clone(),
                    readers: Vec::new(),
                })
                .readers
                .push((sub.email.to_string(), sub.profile_hash()));
        }
    }
    let ctx = crate::scoring::ScoreContext {
        now: app.clock.now(),
        cancel: &app.cancel,
    };
    app.scorer
        .tldrs(&app.store, run_id, wanted.into_values().collect(), &ctx)
        .await
}

/// What every subscriber's plan and digest of one run draws on: the announcement, the
/// configuration's view of it, and the group's owed and weekly papers.
struct Day<'a> {
    app: &'a App,
    run_id: i64,
    announcement: &'a Announcement,
    resend_day: Option<NaiveDate>,
    wanted_types: Vec<AnnounceType>,
    config_categories: Vec<Category>,
    owed: Owed,
    week: Week,
}

/// One subscriber's candidates (eligible and not yet sent) and the stored verdicts for them.
struct Plan<'a> {
    subscriber: Subscriber,
    candidates: Vec<&'a Paper>,
    cached: HashMap<PaperId, Verdict>,
}

impl Day<'_> {
    /// `sub`'s plan: their examples loaded, their eligible papers less those already sent, and
    /// the verdicts stored for them.
    async fn plan(&self, sub: &Subscriber) -> anyhow::Result<Plan<'_>> {
        let sub = with_examples(self.app, sub).await?;
        let eligible = self.eligible(&sub);
        let ids: Vec<PaperId> = eligible.iter().map(|p| p.id.clone()).collect();
        let key = self.app.scorer.key(&sub);
        let email = sub.email.to_string();
        let resend_day = self.resend_day;
        let (seen, cached) = self
            .app
            .store
            .call(move |c| {
                Ok((
                    deliveries::already_sent(c, &email, &ids, resend_day)?,
                    verdicts::load(c, &key, &ids)?,
                ))
            })
            .await?;
        let candidates = eligible
            .into_iter()
            .filter(|p| !seen.contains(&p.id))
            .collect();
        Ok(Plan {
            subscriber: sub,
            candidates,
            cached,
        })
    }

    /// The papers `sub` may be sent: the announcement's of their types and categories, a weekly
    /// digest's papers of the days since the previous one, and papers owed from earlier runs.
    fn eligible(&self, sub: &Subscriber) -> Vec<&Paper> {
        let categories = sub
            .categories
            .clone()
            .unwrap_or_else(|| self.config_categories.clone());
        let mut eligible: Vec<&Paper> = self
            .announcement
            .papers
            .iter()
            .filter(|p| self.wanted_types.contains(&p.announce_type))
            .filter(|p| p.categories.iter().any(|c| categories.contains(c)))
            .collect();
        // A weekly digest due today holds the papers of the days since the previous one.
        if let Some(Cadence::Due { .. }) = self.week.cadence.get(sub.email.as_str()) {
            let today: HashSet<&PaperId> = eligible.iter().map(|p| &p.id).collect();
            let extra: Vec<&Paper> = self
                .week
                .papers
                .iter()
                .filter(|p| !today.contains(&p.id))
                .filter(|p| self.wanted_types.contains(&p.announce_type))
                .filter(|p| p.categories.iter().any(|c| categories.contains(c)))
                .filter(|p| {
                    self.week
                        .after
                        .get(sub.email.as_str())
                        .is_some_and(|after| p.id_day > *after)
                })
                .map(|p| &p.paper)
                .collect();
            eligible.extend(extra);
        }
        // Papers owed from earlier runs come along (once, even if announced again today).
        if let Some(mine) = self.owed.by_reader.get(sub.email.as_str()) {
            let today: HashSet<&PaperId> = eligible.iter().map(|p| &p.id).collect();
            let extra: Vec<&Paper> = mine
                .iter()
                .filter(|id| !today.contains(id))
                .filter_map(|id| self.owed.papers.get(id))
                .collect();
            eligible.extend(extra);
        }
        eligible
    }

    /// `plan`'s digest: its papers selected by their verdicts (stored and new), with the run's
    /// usage, the reply addresses and the archive link, and the counts the report gives.
    async fn prepared(&self, selected: Selected<'_>) -> anyhow::Result<Prepared> {
        let app = self.app;
        let Selected {
            plan,
            merged,
            mut selection,
        } = selected;
        let sub = plan.subscriber;
        let (settled, unscored) = merged.settled_and_unscored(&plan.candidates, &sub.authors);
        let usage = app.store.run_totals(self.run_id, &sub.email).await?;
        // A weekly digest says on which day each paper was announced, and what the week cost.
        let mut shown_usage = usage.clone();
        if let Some(Cadence::Due { since }) = self.week.cadence.get(sub.email.as_str()) {
            let mut days: HashMap<&PaperId, NaiveDate> =
                self.week.papers.iter().map(|p| (&p.id, p.id_day)).collect();
            days.extend(
                self.announcement
                    .papers
                    .iter()
                    .map(|p| (&p.id, self.announcement.day)),
            );
            for e in selection
                .entries
                .iter_mut()
                .chain(selection.more.iter_mut())
            {
                e.announced = days.get(&e.paper.id).copied();
            }
            shown_usage = app
                .store
                .days_totals(&sub.email, *since, self.announcement.day)
                .await?;
        }
        let author_matches = selection.entries.iter().filter(|e| e.author_match).count();
        let scored = merged.scored(&plan.candidates);
        let triage_kept = app
            .scorer
            .triage_key(&sub)
            .map(|_| plan.candidates.len() - merged.dropped);
        let reply = reply_addresses(app, &sub.email).await?;
        let day = self.announcement.day;
        let taught = app.store.taught_since(&sub.email, day).await?;
        let sub_email = sub.email.to_string();
        let cad = self
            .week
            .cadence
            .get(sub_email.as_str())
            .copied()
            .unwrap_or(Cadence::Daily);
        let sources = Source::of(sub.categories.as_ref().unwrap_or(&self.config_categories));
        let total_papers = self.total_papers(&sources, cad, &sub_email);
        let archive_url = crate::archive::url_for(
            &app.config,
            &app.store,
            sub_email.as_str(),
            self.announcement.day,
        )
        .await?;
        let digest = Digest {
            day: self.announcement.day,
            sources,
            unread: Vec::new(),
            subscriber: sub,
            entries: selection.entries,
            more: selection.more,
            usage: shown_usage,
            total_papers,
            scanned: plan.candidates.len(),
            unscored,
            model: app.scorer.model_name(),
            keyword_scorer: app.scorer.is_keyword(),
            contact: app.from.email.to_string(),
            reply,
            since: match cad {
                Cadence::Due { since } => Some(since),
                _ => None,
            },
            archive_url,
            feed_url: crate::archive::feed_url(&app.config, &app.store, sub_email.as_str()).await?,
            taught,
        };
        Ok(Prepared {
            digest,
            usage,
            scored_any: scored > 0,
            author_matches,
            triage_kept,
            scored,
            settled,
            not_due: match cad {
                Cadence::NotDue { next } => Some(next),
                _ => None,
            },
        })
    }

    /// The announcement's papers in the reader's `sources`; for a weekly digest due today, the
    /// whole week's.
    fn total_papers(&self, sources: &[Source], cad: Cadence, email: &str) -> usize {
        let mut all: HashSet<&PaperId> = self
            .announcement
            .papers
            .iter()
            .filter(|p| sources.contains(&p.source))
            .map(|p| &p.id)
            .collect();
        if let (Cadence::Due { .. }, Some(after)) = (cad, self.week.after.get(email)) {
            all.extend(
                self.week
                    .papers
                    .iter()
                    .filter(|p| p.id_day > *after && sources.contains(&p.source))
                    .map(|p| &p.id),
            );
        }
        all.len()
    }
}

/// `sub` with their "more like this" examples from the inbox.
async fn with_examples(app: &App, sub: &Subscriber) -> anyhow::Result<Subscriber> {
    let mut sub = sub.clone();
    sub.examples = app
        .store
        .examples(&sub.email)
        .await?
        .into_iter()
        .map(|e| (e.more, e.title))
        .collect();
    Ok(sub)
}

/// Scores what no stored verdict covers, once per distinct reader profile, showing progress.
async fn score_plans(
    app: &App,
    run_id: i64,
    plans: &[Plan<'_>],
    progress: &dyn Progress,
) -> anyhow::Result<HashMap<String, JobResult>> {
    let jobs = jobs_of(plans);
    let to_score: usize = jobs.values().map(|j| j.papers.len()).sum();
    if to_score > 0 {
        tracing::info!(papers = to_score, profiles = jobs.len(), scorer = %app.scorer.describe(), "scoring");
    }
    progress.start(to_score);
    let ctx = crate::scoring::ScoreContext {
        now: app.clock.now(),
        cancel: &app.cancel,
    };
    let results = app
        .scorer
        .score(
            &app.store,
            run_id,
            jobs.into_values().collect(),
            &|n| progress.advance(n),
            &ctx,
        )
        .await;
    progress.finish();
    results
}

/// The scoring jobs of `plans`, one per reader profile, holding the candidates no stored
/// verdict settles (followed authors' papers too: they get a verdict and TL;DR like any
/// other); profiles with nothing to score are left out.
fn jobs_of<'p>(plans: &'p [Plan<'_>]) -> HashMap<String, Job<'p>> {
    let mut jobs: HashMap<String, Job> = HashMap::new();
    for plan in plans {
        let job = jobs
            .entry(plan.subscriber.profile_hash())
            .or_insert_with(|| Job {
                subscribers: Vec::new(),
                papers: Vec::new(),
            });
        job.subscribers.push(plan.subscriber.clone());
        let have: HashSet<PaperId> = job.papers.iter().map(|p| p.id.clone()).collect();
        for p in &plan.candidates {
            if !plan.cached.contains_key(&p.id) && !have.contains(&p.id) {
                job.papers.push(p);
            }
        }
    }
    jobs.retain(|_, j| !j.papers.is_empty());
    jobs
}

/// A plan's stored verdicts with the scoring's merged in, why papers stayed unscored, and how
/// many the title triage dropped.
struct Merged {
    verdicts: HashMap<PaperId, Verdict>,
    unscored_reasons: HashMap<PaperId, Problem>,
    dropped: usize,
}

impl Merged {
    /// Merges `result` (this profile's scoring, if it had any) for `candidates` into `cached`.
    fn of(
        candidates: &[&Paper],
        cached: HashMap<PaperId, Verdict>,
        result: Option<&JobResult>,
    ) -> Merged {
        let mut verdicts = cached;
        let mut unscored_reasons = HashMap::new();
        let mut dropped = 0;
        if let Some(r) = result {
            dropped = candidates
                .iter()
                .filter(|p| r.dropped.contains(&p.id))
                .count();
            for p in candidates {
                if let Some(v) = r.verdicts.get(&p.id) {
                    verdicts.insert(p.id.clone(), v.clone());
                }
                if let Some(why) = r.unscored.get(&p.id) {
                    unscored_reasons.insert(p.id.clone(), why.clone());
                }
            }
        }
        Merged {
            verdicts,
            unscored_reasons,
            dropped,
        }
    }

    /// The candidates settled (none left unscored), and the unscored ones with their reasons. A
    /// followed author's paper is shown whether or not it got a verdict, so it is settled.
    fn settled_and_unscored(
        &self,
        candidates: &[&Paper],
        authors: &[String],
    ) -> (Vec<PaperId>, Vec<Unscored>) {
        let open = |p: &Paper| {
            self.unscored_reasons.contains_key(&p.id) && !crate::domain::author_matches(p, authors)
        };
        let settled = candidates
            .iter()
            .filter(|p| !open(p))
            .map(|p| p.id.clone())
            .collect();
        let unscored = candidates
            .iter()
            .filter(|p| open(p))
            .filter_map(|p| {
                self.unscored_reasons.get(&p.id).map(|r| Unscored {
                    paper: (*p).clone(),
                    reason: r.clone(),
                })
            })
            .collect();
        (settled, unscored)
    }

    /// How many of `candidates` have a verdict.
    fn scored(&self, candidates: &[&Paper]) -> usize {
        candidates
            .iter()
            .filter(|p| self.verdicts.contains_key(&p.id))
            .count()
    }
}

/// Every paper owed to one of `subscribers`, and who is owed what.
type Owed = crate::store::owed::OwedPapers;

async fn owed_papers(app: &App, subscribers: &[Subscriber]) -> anyhow::Result<Owed> {
    let emails: Vec<SubscriberEmail> = subscribers.iter().map(|s| s.email.clone()).collect();
    app.store.owed_papers(&emails).await
}

/// When a reader's digest goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cadence {
    Daily,
    /// A weekly digest goes out today, holding what was announced after `since` (its previous
    /// digest, or a week back for a first one).
    Due {
        since: NaiveDate,
    },
    /// A weekly reader between digests: their papers are scored (and kept) but not sent.
    NotDue {
        next: NaiveDate,
    },
}

/// A weekly reader's cadence on announcement day `day`: due with the first run on or after their
/// weekday that follows their previous digest.
pub fn cadence(
    frequency: crate::domain::Frequency,
    day: NaiveDate,
    last: Option<NaiveDate>,
) -> Cadence {
    use chrono::Datelike as _;
    let crate::domain::Frequency::Weekly(weekday) = frequency else {
        return Cadence::Daily;
    };
    let back = (7 + day.weekday().num_days_from_monday() - weekday.num_days_from_monday()) % 7;
    let occurrence = day - chrono::Duration::days(i64::from(back));
    let next = occurrence + chrono::Duration::days(7);
    match last {
        Some(l) if l >= occurrence => Cadence::NotDue { next },
        Some(l) => Cadence::Due { since: l },
        // A first weekly digest: on the weekday itself (or the first run after a weekend one).
        None if back <= 2 => Cadence::Due {
            since: day - chrono::Duration::days(7),
        },
        None => Cadence::NotDue { next },
    }
}

/// A stored paper with the day it was announced.
struct DatedPaper {
    paper: Paper,
    id_day: NaiveDate,
}

impl std::ops::Deref for DatedPaper {
    type Target = Paper;
    fn deref(&self) -> &Paper {
        &self.paper
    }
}

/// Each reader's cadence today, and the stored papers a weekly digest due today may hold.
struct Week {
    cadence: HashMap<String, Cadence>,
    /// Per reader with a digest due: the day after which their papers count.
    after: HashMap<String, NaiveDate>,
    papers: Vec<DatedPaper>,
}

async fn week_papers(
    app: &App,
    subscribers: &[Subscriber],
    day: NaiveDate,
) -> anyhow::Result<Week> {
    let emails: Vec<SubscriberEmail> = subscribers.iter().map(|s| s.email.clone()).collect();
    let lasts = app.store.latest_delivery_days(&emails).await?;
    let mut cadence = HashMap::new();
    let mut after = HashMap::new();
    let mut earliest: Option<NaiveDate> = None;
    for (sub, last) in subscribers.iter().zip(lasts) {
        let email = sub.email.to_string();
        let cad = self::cadence(sub.frequency, day, last);
        if let Cadence::Due { since } = cad {
            after.insert(email.clone(), since);
            earliest = Some(earliest.map_or(since, |e: NaiveDate| e.min(since)));
        }
        cadence.insert(email, cad);
    }
    let mut papers = Vec::new();
    if let Some(from) = earliest {
        for (d, p) in app.store.announced_between(from, day).await? {
            papers.push(DatedPaper {
                paper: p,
                id_day: d,
            });
        }
    }
    Ok(Week {
        cadence,
        after,
        papers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Frequency;
    use chrono::Weekday;

    #[test]
    fn weekly_readers_get_the_first_run_on_or_after_their_weekday() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let fri = Frequency::Weekly(Weekday::Fri);
        // The week of Mon 24 March 2025; the last digest the Friday before.
        let last = Some(d("2025-03-21"));
        assert_eq!(
            cadence(fri, d("2025-03-24"), last),
            Cadence::NotDue {
                next: d("2025-03-28")
            }
        );
        assert_eq!(
            cadence(fri, d("2025-03-27"), last),
            Cadence::NotDue {
                next: d("2025-03-28")
            }
        );
        assert_eq!(
            cadence(fri, d("2025-03-28"), last),
            Cadence::Due {
                since: d("2025-03-21")
            }
        );
        // Friday was a holiday: Monday's run sends it.
        assert_eq!(
            cadence(fri, d("2025-03-31"), last),
            Cadence::Due {
                since: d("2025-03-21")
            }
        );
        // Sent on Friday: nothing more until the next Friday.
        assert!(matches!(
            cadence(fri, d("2025-03-31"), Some(d("2025-03-28"))),
            Cadence::NotDue { .. }
        ));
        // A first weekly digest waits for the weekday.
        assert!(matches!(
            cadence(fri, d("2025-03-25"), None),
            Cadence::NotDue { .. }
        ));
        assert!(matches!(
            cadence(fri, d("2025-03-28"), None),
            Cadence::Due { .. }
        ));
        assert_eq!(
            cadence(Frequency::Daily, d("2025-03-25"), None),
            Cadence::Daily
        );
    }
}
