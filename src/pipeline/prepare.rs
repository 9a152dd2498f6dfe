//! Selecting and scoring: each subscriber's candidates (the day's papers in their categories, and
//! papers owed from earlier runs), one scoring pass for the whole group, and the digests.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;

use super::{reply_addresses, App, Prepared, Progress};
use crate::arxiv::Announcement;
use crate::digest::{self, Digest, Unscored};
use crate::domain::{ArxivId, Paper, Verdict};
use crate::scoring::Job;
use crate::store::{deliveries, spend, verdicts};
use crate::subscribers::Subscriber;

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
    let wanted_types = app.config.announce_types();
    let config_categories = app.config.categories();
    let owed = owed_papers(app, subscribers).await?;

    // 1. Plan: candidates and cached verdicts per subscriber.
    struct Plan<'a> {
        subscriber: Subscriber,
        candidates: Vec<&'a Paper>,
        cached: HashMap<ArxivId, Verdict>,
    }
    let mut plans = Vec::new();
    for sub in subscribers {
        let mut sub = sub.clone();
        let email = sub.email.to_string();
        sub.examples = app
            .store
            .call(move |c| crate::store::inbox::examples(c, &email))
            .await?
            .into_iter()
            .map(|e| (e.more, e.title))
            .collect();
        let sub = &sub;
        let categories = sub
            .categories
            .clone()
            .unwrap_or_else(|| config_categories.clone());
        let mut eligible: Vec<&Paper> = announcement
            .papers
            .iter()
            .filter(|p| wanted_types.contains(&p.announce_type))
            .filter(|p| p.categories.iter().any(|c| categories.contains(c)))
            .collect();
        // Papers owed from earlier runs come along (once, even if announced again today).
        if let Some(mine) = owed.by_reader.get(sub.email.as_str()) {
            let today: HashSet<&ArxivId> = eligible.iter().map(|p| &p.id).collect();
            let extra: Vec<&Paper> = mine
                .iter()
                .filter(|id| !today.contains(id))
                .filter_map(|id| owed.papers.get(id))
                .collect();
            eligible.extend(extra);
        }
        let ids: Vec<ArxivId> = eligible.iter().map(|p| p.id.clone()).collect();
        let key = app.scorer.key(sub);
        let email = sub.email.to_string();
        let (seen, cached) = app
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
        plans.push(Plan {
            subscriber: sub.clone(),
            candidates,
            cached,
        });
    }

    // 2. Score what no stored verdict covers, once per distinct reader profile.
    let mut jobs: HashMap<String, Job> = HashMap::new();
    for plan in &plans {
        let job = jobs
            .entry(plan.subscriber.profile_hash())
            .or_insert_with(|| Job {
                subscribers: Vec::new(),
                papers: Vec::new(),
            });
        job.subscribers.push(plan.subscriber.clone());
        let have: HashSet<ArxivId> = job.papers.iter().map(|p| p.id.clone()).collect();
        for p in &plan.candidates {
            let pinned = digest::author_matches(p, &plan.subscriber.authors);
            if !pinned && !plan.cached.contains_key(&p.id) && !have.contains(&p.id) {
                job.papers.push(p);
            }
        }
    }
    jobs.retain(|_, j| !j.papers.is_empty());
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
    let results = results?;

    // 3. Select and build each digest.
    let mut out = Vec::new();
    for plan in plans {
        let sub = plan.subscriber;
        let hash = sub.profile_hash();
        let mut verdicts = plan.cached;
        let mut unscored_reasons = HashMap::new();
        let mut dropped = 0;
        if let Some(r) = results.get(&hash) {
            dropped = plan
                .candidates
                .iter()
                .filter(|p| r.dropped.contains(&p.id))
                .count();
            for p in &plan.candidates {
                if let Some(v) = r.verdicts.get(&p.id) {
                    verdicts.insert(p.id.clone(), v.clone());
                }
                if let Some(why) = r.unscored.get(&p.id) {
                    unscored_reasons.insert(p.id.clone(), why.clone());
                }
            }
        }
        let selection = digest::select(plan.candidates.iter().copied(), &verdicts, &sub);
        let settled: Vec<ArxivId> = plan
            .candidates
            .iter()
            .filter(|p| !unscored_reasons.contains_key(&p.id))
            .map(|p| p.id.clone())
            .collect();
        let unscored: Vec<Unscored> = plan
            .candidates
            .iter()
            .filter_map(|p| {
                unscored_reasons.get(&p.id).map(|r| Unscored {
                    paper: (*p).clone(),
                    reason: r.clone(),
                })
            })
            .collect();
        let email = sub.email.to_string();
        let usage = app
            .store
            .call(move |c| spend::run_totals(c, run_id, &email))
            .await?;
        let author_matches = selection.entries.iter().filter(|e| e.author_match).count();
        let scored = plan
            .candidates
            .iter()
            .filter(|p| verdicts.contains_key(&p.id))
            .count();
        let triage_kept = app
            .scorer
            .triage_key(&sub)
            .map(|_| plan.candidates.len() - dropped);
        let reply = reply_addresses(app, &sub.email).await?;
        let sub_email = sub.email.to_string();
        let digest = Digest {
            day: announcement.day,
            subscriber: sub,
            entries: selection.entries,
            more: selection.more,
            usage: usage.clone(),
            total_papers: announcement.papers.len(),
            scanned: plan.candidates.len(),
            unscored,
            model: app.scorer.model_name(),
            keyword_scorer: app.scorer.is_keyword(),
            contact: app.from.email.to_string(),
            reply,
            archive_url: crate::archive::url_for(
                &app.config,
                &app.store,
                sub_email.as_str(),
                announcement.day,
            )
            .await?,
        };
        out.push(Prepared {
            digest,
            usage,
            scored_any: scored > 0,
            author_matches,
            triage_kept,
            scored,
            settled,
        });
    }
    Ok(out)
}

/// Every paper owed to one of `subscribers`, and who is owed what.
struct Owed {
    papers: HashMap<ArxivId, Paper>,
    by_reader: HashMap<String, Vec<ArxivId>>,
}

async fn owed_papers(app: &App, subscribers: &[Subscriber]) -> anyhow::Result<Owed> {
    let emails: Vec<String> = subscribers.iter().map(|s| s.email.to_string()).collect();
    app.store
        .call(move |c| {
            let mut by_reader: HashMap<String, Vec<ArxivId>> = HashMap::new();
            let mut days: HashMap<NaiveDate, HashSet<ArxivId>> = HashMap::new();
            for e in emails {
                for (day, id) in crate::store::owed::list(c, &e)? {
                    days.entry(day).or_default().insert(id.clone());
                    by_reader.entry(e.clone()).or_default().push(id);
                }
            }
            let mut papers = HashMap::new();
            for (day, ids) in days {
                for p in crate::store::papers::announced(c, day)? {
                    if ids.contains(&p.id) {
                        papers.insert(p.id.clone(), p);
                    }
                }
            }
            Ok(Owed { papers, by_reader })
        })
        .await
}
