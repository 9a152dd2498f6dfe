//! The daily job: fetch → store → select and score → render → deliver, recording each step in
//! SQLite so a run can stop anywhere and be started again without sending twice.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use anyhow::Context as _;
use chrono::NaiveDate;
use lettre::message::Mailbox;

use crate::arxiv::{parse_rss, Announcement, ArxivClient};
use crate::config::Config;
use crate::digest::{self, Digest, Unscored};
use crate::domain::{ArxivId, Money, Paper, Verdict};
use crate::mail::outbound::new_message_id;
use crate::mail::{build_digest_message, Mailer};
use crate::scoring::{Job, Scorer};
use crate::store::deliveries::{self, DeliveryStatus};
use crate::store::runs::{self, RunStatus, SubscriberOutcome};
use crate::store::spend::{self, Totals};
use crate::store::{papers, verdicts, Store};
use crate::subscribers::Subscriber;

/// Everything a run needs, built once from the configuration.
pub struct App {
    pub config: Config,
    pub store: Store,
    pub arxiv: ArxivClient,
    pub scorer: Scorer,
    pub from: Mailbox,
    /// Cancelled on SIGTERM/SIGINT: no new work is started, the run records where it stopped.
    pub cancel: tokio_util::sync::CancellationToken,
    pub clock: crate::clock::Clock,
}

/// Reports scoring progress (a progress bar on a terminal; nothing elsewhere).
pub trait Progress: Sync {
    fn start(&self, total: usize);
    fn advance(&self, n: usize);
    fn finish(&self);
}

/// No progress display.
pub struct Quiet;

impl Progress for Quiet {
    fn start(&self, _: usize) {}
    fn advance(&self, _: usize) {}
    fn finish(&self) {}
}

#[derive(Debug, Clone, Default)]
pub struct DigestOptions {
    /// A past announcement day (from the arXiv API) instead of the latest (RSS).
    pub date: Option<NaiveDate>,
    /// Write emails to the outbox whatever the transport; record no deliveries.
    pub dry_run: bool,
    /// Read the announcement from a saved RSS file instead of arXiv.
    pub feed: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct SubscriberReport {
    pub outcome: SubscriberOutcome,
    pub usage: Vec<Totals>,
    /// Where the mail went (outbox file or SMTP server).
    pub delivered_to: Option<String>,
}

impl SubscriberReport {
    pub fn tokens(&self) -> u64 {
        self.usage
            .iter()
            .map(|u| u.prompt_tokens + u.completion_tokens)
            .sum()
    }

    pub fn cost(&self) -> Money {
        self.usage.iter().map(|u| u.cost).sum()
    }

    pub fn cost_unknown(&self) -> bool {
        self.usage.iter().any(|u| u.unpriced_calls > 0)
    }

    /// This subscriber could not be scored or delivered.
    pub fn failed(&self) -> bool {
        matches!(self.outcome.status.as_str(), "not_scored" | "send_failed")
            || self.outcome.unscored > 0
    }
}

#[derive(Debug, Clone)]
pub struct RunReport {
    pub run_id: i64,
    pub day: Option<NaiveDate>,
    pub status: RunStatus,
    pub papers_fetched: usize,
    pub scorer: String,
    pub subscribers: Vec<SubscriberReport>,
    pub error: Option<String>,
}

impl RunReport {
    /// Whether a one-shot command should exit non-zero.
    pub fn failed(&self) -> bool {
        self.status == RunStatus::Failed || self.subscribers.iter().any(SubscriberReport::failed)
    }
}

/// A subscriber's digest for a day, built and ready to send.
pub struct Prepared {
    pub digest: Digest,
    pub usage: Vec<Totals>,
    /// At least one candidate has a verdict.
    pub scored_any: bool,
    pub author_matches: usize,
    /// Papers left after the title triage (`None` without one).
    pub triage_kept: Option<usize>,
    /// Candidates with a verdict.
    pub scored: usize,
}

impl Prepared {
    /// Nothing could be scored and nothing was pinned: mailing this would look like a quiet day.
    pub fn nothing_scored(&self) -> bool {
        !self.digest.unscored.is_empty() && !self.scored_any && self.author_matches == 0
    }

    fn outcome(&self) -> SubscriberOutcome {
        SubscriberOutcome {
            subscriber: self.digest.subscriber.email.to_string(),
            scanned: self.digest.scanned,
            triage_kept: self.triage_kept,
            scored: self.scored,
            author_matches: self.author_matches,
            selected: self.digest.entries.len(),
            unscored: self.digest.unscored.len(),
            status: String::new(),
            detail: None,
        }
    }
}

pub async fn start_run(app: &App, kind: &str, dry_run: bool, source: &str) -> anyhow::Result<i64> {
    let (kind, source, scorer) = (kind.to_string(), source.to_string(), app.scorer.describe());
    app.store
        .call(move |c| runs::start(c, &kind, dry_run, &source, &scorer))
        .await
}

pub async fn run_digest(
    app: &App,
    subscribers: &[Subscriber],
    opts: &DigestOptions,
    progress: &dyn Progress,
) -> anyhow::Result<RunReport> {
    let source = match (&opts.feed, opts.date) {
        (Some(f), _) => format!("file {}", f.display()),
        (None, Some(d)) => format!("arXiv API for {d}"),
        (None, None) => "arXiv RSS".to_string(),
    };
    let run_id = start_run(app, "digest", opts.dry_run, &source).await?;
    let mut report = RunReport {
        run_id,
        day: None,
        status: RunStatus::Running,
        papers_fetched: 0,
        scorer: app.scorer.describe(),
        subscribers: Vec::new(),
        error: None,
    };

    let fetched = tokio::select! {
        f = fetch(app, opts) => f,
        _ = app.cancel.cancelled() => Err(anyhow::anyhow!("interrupted by shutdown while fetching; the next run tries again")),
    };
    let announcement = match fetched {
        Ok(a) => a,
        Err(e) => {
            let msg = format!("{e:#}");
            tracing::error!(error = %msg, "could not fetch the announcement; nothing was scored or sent");
            let m = msg.clone();
            app.store
                .call(move |c| runs::finish(c, run_id, RunStatus::Failed, Some(&m)))
                .await?;
            report.status = RunStatus::Failed;
            report.error = Some(msg);
            return Ok(report);
        }
    };
    let day = announcement.day;
    report.day = Some(day);
    report.papers_fetched = announcement.papers.len();
    if announcement.papers.is_empty() {
        tracing::info!(%day, "arXiv announced no papers (weekend or holiday): no model calls, no emails");
        app.store
            .call(move |c| {
                runs::fetched(c, run_id, day, 0)?;
                runs::finish(c, run_id, RunStatus::NoAnnouncement, None)
            })
            .await?;
        report.status = RunStatus::NoAnnouncement;
        return Ok(report);
    }
    store_announcement(app, run_id, &announcement).await?;

    let mailer = Mailer::from_config(&app.config, opts.dry_run)?;

    // Subscribers with a delivery row for the day: finish or skip it; nobody is scored twice.
    let mut fresh = Vec::new();
    for sub in subscribers {
        let email = sub.email.to_string();
        if sub.paused {
            report.subscribers.push(simple(&email, "paused", None));
            continue;
        }
        if !opts.dry_run {
            let e = email.clone();
            if let Some(d) = app.store.call(move |c| deliveries::get(c, &e, day)).await? {
                report.subscribers.push(resume(app, &mailer, sub, d).await?);
                continue;
            }
        }
        fresh.push(sub.clone());
    }

    for p in prepare(app, run_id, &fresh, &announcement, None, progress).await? {
        let mut outcome = p.outcome();
        let sub = &p.digest.subscriber;
        let mut delivered_to = None;
        if app.cancel.is_cancelled() {
            // Shutting down: nothing new is started; the next run delivers this digest.
            outcome.status = "interrupted".into();
            outcome.detail =
                Some("paperboy was shutting down; the next run sends this digest".into());
        } else if p.nothing_scored() {
            // No digest that would look like a quiet day; a later run (once the cause is fixed)
            // sends the real one.
            outcome.status = "not_scored".into();
            outcome.detail = p.digest.unscored.first().map(|u| u.reason.clone());
        } else if p.digest.is_empty() && p.digest.unscored.is_empty() && !sub.send_empty {
            outcome.status = "nothing_to_send".into();
            outcome.detail =
                Some("nothing matched; this subscriber opted out of empty-day notes".into());
        } else {
            let (status, detail, to) =
                deliver(app, &mailer, &p.digest, run_id, opts.dry_run).await?;
            outcome.status = status;
            outcome.detail = detail;
            delivered_to = to;
            if let (None, Some(first)) = (&outcome.detail, p.digest.unscored.first()) {
                outcome.detail = Some(format!(
                    "{} papers could not be scored: {}",
                    p.digest.unscored.len(),
                    first.reason
                ));
            }
        }
        let o = outcome.clone();
        app.store
            .call(move |c| runs::record_subscriber(c, run_id, &o))
            .await?;
        report.subscribers.push(SubscriberReport {
            outcome,
            usage: p.usage,
            delivered_to,
        });
    }

    if !opts.dry_run {
        write_archive(app, subscribers, day).await;
    }

    let interrupted = report
        .subscribers
        .iter()
        .any(|s| s.outcome.status == "interrupted");
    report.status = if interrupted {
        RunStatus::Failed
    } else if report.subscribers.iter().any(SubscriberReport::failed) {
        let all_failed = report
            .subscribers
            .iter()
            .all(|s| s.failed() || s.outcome.status == "paused");
        if all_failed {
            RunStatus::Failed
        } else {
            RunStatus::Degraded
        }
    } else {
        RunStatus::Ok
    };
    let problems: Vec<String> = report
        .subscribers
        .iter()
        .filter(|s| s.failed())
        .map(|s| {
            let why = s
                .outcome
                .detail
                .clone()
                .unwrap_or_else(|| s.outcome.status.clone());
            format!("{}: {why}", s.outcome.subscriber)
        })
        .collect();
    report.error = (!problems.is_empty()).then(|| problems.join("; "));
    if interrupted {
        report.error = Some(format!(
            "interrupted by shutdown; the next run finishes the day{}",
            report
                .error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        ));
    }
    let (status, error) = (report.status, report.error.clone());
    app.store
        .call(move |c| runs::finish(c, run_id, status, error.as_deref()))
        .await?;
    Ok(report)
}

/// Brings each reader's web archive up to date with `day` (when `[archive]` is configured). A
/// page that cannot be written is logged and left for `paperboy archive rebuild`; it never
/// holds up a digest.
async fn write_archive(app: &App, subscribers: &[Subscriber], day: NaiveDate) {
    let Some(archive) = &app.config.archive else {
        return;
    };
    let dir = app.config.resolve(&archive.dir);
    for sub in subscribers {
        if let Err(e) = crate::archive::update(&app.store, &dir, sub, Some(&[day])).await {
            tracing::error!(subscriber = %sub.email, error = %format!("{e:#}"), "could not write the web archive; `paperboy archive rebuild` writes it again");
        }
    }
}

/// Fetches the announcement the options ask for (file, API day or latest RSS).
pub async fn fetch(app: &App, opts: &DigestOptions) -> anyhow::Result<Announcement> {
    let categories = app.config.categories();
    let announcement = if let Some(path) = &opts.feed {
        let xml = tokio::fs::read_to_string(path)
            .await
            .with_context(|| format!("cannot read the feed file {}", path.display()))?;
        parse_rss(&xml)
            .with_context(|| format!("{} is not a readable arXiv RSS feed", path.display()))?
    } else {
        match opts.date {
            Some(day) => app.arxiv.day(&categories, day).await?,
            None => app.arxiv.latest(&categories).await?,
        }
    };
    for r in &announcement.rejected {
        tracing::warn!(item = %r, "skipped an unreadable feed item");
    }
    Ok(announcement)
}

pub async fn store_announcement(app: &App, run_id: i64, a: &Announcement) -> anyhow::Result<()> {
    tracing::info!(day = %a.day, papers = a.papers.len(), "fetched the announcement");
    let (papers, day, n) = (a.papers.clone(), a.day, a.papers.len());
    app.store
        .call(move |c| {
            papers::save_announcement(c, day, &papers)?;
            runs::fetched(c, run_id, day, n)
        })
        .await
}

/// The announcement of `day` (default: the latest stored), from the store if it is there,
/// otherwise fetched and stored.
pub async fn stored_or_fetched(
    app: &App,
    run_id: i64,
    day: Option<NaiveDate>,
) -> anyhow::Result<Announcement> {
    let day = match day {
        Some(d) => Some(d),
        None => app.store.call(|c| papers::latest_day(c)).await?,
    };
    if let Some(day) = day {
        let papers = app.store.call(move |c| papers::announced(c, day)).await?;
        if !papers.is_empty() {
            let n = papers.len();
            app.store
                .call(move |c| runs::fetched(c, run_id, day, n))
                .await?;
            return Ok(Announcement {
                day,
                papers,
                rejected: Vec::new(),
            });
        }
    }
    let a = fetch(
        app,
        &DigestOptions {
            date: day,
            ..Default::default()
        },
    )
    .await?;
    store_announcement(app, run_id, &a).await?;
    Ok(a)
}

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
        let eligible: Vec<&Paper> = announcement
            .papers
            .iter()
            .filter(|p| wanted_types.contains(&p.announce_type))
            .filter(|p| p.categories.iter().any(|c| categories.contains(c)))
            .collect();
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
        });
    }
    Ok(out)
}

fn simple(email: &str, status: &str, detail: Option<String>) -> SubscriberReport {
    SubscriberReport {
        outcome: SubscriberOutcome {
            subscriber: email.to_string(),
            status: status.to_string(),
            detail,
            ..Default::default()
        },
        usage: Vec::new(),
        delivered_to: None,
    }
}

/// A delivery row already exists for this subscriber and day: sent (nothing to do), pending (a
/// previous run stopped before or during the send: send the same bytes again), or failed for good.
async fn resume(
    app: &App,
    mailer: &Mailer,
    sub: &Subscriber,
    d: deliveries::Delivery,
) -> anyhow::Result<SubscriberReport> {
    let email = sub.email.to_string();
    let selected = d.paper_ids.len();
    let mut report = match d.status {
        DeliveryStatus::Sent => simple(
            &email,
            "already_delivered",
            Some(format!("sent before as {}", d.message_id)),
        ),
        DeliveryStatus::Failed => simple(
            &email,
            "send_failed",
            Some(format!(
                "the mail server refused this digest for good: {}",
                d.last_error.unwrap_or_default()
            )),
        ),
        DeliveryStatus::Pending => {
            tracing::info!(subscriber = %email, message_id = %d.message_id, "resending a digest left pending by an earlier run");
            send_recorded(app, mailer, sub, d.day, &d.message).await?
        }
    };
    report.outcome.selected = selected;
    Ok(report)
}

/// Records the digest as pending, sends it, and records the result.
async fn deliver(
    app: &App,
    mailer: &Mailer,
    d: &Digest,
    run_id: i64,
    dry_run: bool,
) -> anyhow::Result<(String, Option<String>, Option<String>)> {
    let message_id = new_message_id(&app.from);
    let reply = reply_addresses(app, &d.subscriber.email).await?;
    let bytes = build_digest_message(&app.from, d, &message_id, false, reply.as_ref())?.formatted();
    let to = d.subscriber.email.to_address();
    if dry_run {
        return Ok(match mailer.send(&app.from.email, &to, &bytes).await {
            Ok(where_) => ("dry_run".into(), None, Some(where_)),
            Err(e) => ("send_failed".into(), Some(e.message), None),
        });
    }
    let created = {
        let email = d.subscriber.email.to_string();
        // Listed papers count as sent, the ones past the cap too: none is offered twice.
        let ids: Vec<ArxivId> = d
            .entries
            .iter()
            .chain(&d.more)
            .map(|e| e.paper.id.clone())
            .collect();
        let kind = if d.is_empty() { "empty" } else { "digest" };
        let (day, subject, mid, bytes) = (d.day, d.subject(), message_id.clone(), bytes.clone());
        let page = serde_json::to_string(&crate::digest::StoredPage::of(d))?;
        app.store
            .call(move |c| {
                deliveries::create_pending(
                    c,
                    &email,
                    day,
                    run_id,
                    kind,
                    &mid,
                    &subject,
                    &ids,
                    &bytes,
                    Some(&page),
                )
            })
            .await?
    };
    if !created {
        return Ok((
            "already_delivered".into(),
            Some("another run recorded this digest first".into()),
            None,
        ));
    }
    let r = send_recorded(app, mailer, &d.subscriber, d.day, &bytes).await?;
    Ok((r.outcome.status, r.outcome.detail, r.delivered_to))
}

/// Sends a message whose delivery row exists, retrying transient failures (4xx, refused
/// connections) with backoff, then marks it sent, failed for good (5xx), or still pending.
async fn send_recorded(
    app: &App,
    mailer: &Mailer,
    sub: &Subscriber,
    day: NaiveDate,
    bytes: &[u8],
) -> anyhow::Result<SubscriberReport> {
    let email = sub.email.to_string();
    let attempts = app.config.schedule.send_attempts.max(1);
    let mut attempt = 0;
    loop {
        attempt += 1;
        match mailer
            .send(&app.from.email, &sub.email.to_address(), bytes)
            .await
        {
            Ok(where_) => {
                let e = email.clone();
                app.store
                    .call(move |c| deliveries::mark_sent(c, &e, day))
                    .await?;
                let mut r = simple(&email, "delivered", None);
                r.delivered_to = Some(where_);
                return Ok(r);
            }
            Err(err) if err.transient && attempt < attempts && !app.cancel.is_cancelled() => {
                let wait = std::time::Duration::from_millis(app.config.schedule.send_retry_base_ms)
                    .saturating_mul(2u32.saturating_pow(attempt - 1));
                tracing::warn!(subscriber = %email, error = %err, attempt, wait_ms = wait.as_millis() as u64, "sending failed for now; retrying");
                tokio::time::sleep(wait).await;
            }
            Err(err) => {
                tracing::error!(subscriber = %email, error = %err, transient = err.transient, "could not deliver the digest");
                let (e, msg, permanent) = (email.clone(), err.message.clone(), !err.transient);
                app.store
                    .call(move |c| deliveries::mark_failed(c, &e, day, &msg, permanent))
                    .await?;
                let detail = if err.transient {
                    format!("{} (will be retried)", err.message)
                } else {
                    err.message
                };
                return Ok(simple(&email, "send_failed", Some(detail)));
            }
        }
    }
}

/// The subscriber's reply and unsubscribe addresses, when replies are read (`[imap]` configured).
pub async fn reply_addresses(
    app: &App,
    email: &crate::domain::SubscriberEmail,
) -> anyhow::Result<Option<crate::mail::outbound::ReplyAddresses>> {
    if app.config.imap.is_none() {
        return Ok(None);
    }
    let base = app.config.reply_address().map_err(|e| anyhow::anyhow!(e))?;
    let e = email.to_string();
    let token = app
        .store
        .call(move |c| crate::store::inbox::token_for(c, &e))
        .await?;
    Ok(Some(crate::mail::outbound::ReplyAddresses::new(
        &base, &token,
    )))
}
