//! The daily job: fetch → store → select and score → render → deliver, recording each step in
//! SQLite so a run can stop anywhere and be started again without sending twice.

use std::path::PathBuf;

use chrono::NaiveDate;
use futures::StreamExt as _;

use crate::domain::problem::{Kind, Problem};
use crate::domain::Source;
use crate::domain::Subscriber;
use crate::sources::arxiv::{parse_rss, Announcement};
use crate::store::runs::{self, RunStatus, SubscriberStatus};

mod deliver;
mod prepare;
mod preprints;
mod report;

pub use deliver::reply_addresses;
use deliver::{deliver, keep_owed, resume};
pub use prepare::prepare;
use report::simple;
pub use report::{Prepared, RunReport, SubscriberReport};

/// What the daily job works with, built once by the composition root (`app::App::build`).
pub struct Pipeline {
    pub config: crate::config::Config,
    pub store: crate::store::Store,
    pub arxiv: crate::sources::arxiv::ArxivClient,
    pub preprints: crate::sources::preprints::PreprintClient,
    pub scorer: crate::scoring::Scorer,
    pub from: lettre::message::Mailbox,
    /// Every mail goes through it: one transport, one retry policy.
    pub outbox: crate::outbox::Outbox,
    /// Cancelled on SIGTERM/SIGINT: no new work is started, the run records where it stopped.
    pub cancel: tokio_util::sync::CancellationToken,
    pub clock: crate::support::clock::Clock,
}

/// The daily job is handed as `app` to its steps.
type App = Pipeline;

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
    /// Send the day again to these subscribers even though it was delivered: their earlier
    /// digest is set aside once the day's papers are in hand (never when the fetch fails).
    pub again: bool,
}

pub async fn start_run(
    app: &App,
    kind: runs::RunKind,
    dry_run: bool,
    source: &str,
) -> anyhow::Result<i64> {
    app.store
        .start_run(kind, dry_run, source, &app.scorer.describe())
        .await
}

/// Runs the day for `subscribers`. A step that fails records the run as failed with a typed
/// problem; the report says so (never a quiet day).
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
    let preprints: Vec<&str> = app.config.preprints().map(|(s, _)| s.name()).collect();
    let source = if preprints.is_empty() {
        source
    } else if app.config.arxiv_categories().is_empty() && opts.feed.is_none() {
        preprints.join(" + ")
    } else {
        format!("{source} + {}", preprints.join(" + "))
    };
    let run_id = start_run(app, runs::RunKind::Digest, opts.dry_run, &source).await?;
    // Fault injection for the tests of what a panic inside a run leaves (debug builds only).
    #[cfg(debug_assertions)]
    if std::env::var_os("PAPERBOY_TEST_PANIC_IN_RUN").is_some() {
        panic!("PAPERBOY_TEST_PANIC_IN_RUN is set");
    }
    if let Some(day) = opts.date {
        app.store.run_for_day(run_id, day).await?;
    }
    let mut report = RunReport {
        run_id,
        // Known before the fetch when asked for: a failed fetch still names its day.
        day: opts.date,
        status: RunStatus::Running,
        papers_fetched: 0,
        scorer: app.scorer.describe(),
        subscribers: Vec::new(),
        error: None,
        problem: None,
    };
    if let Err(failure) = steps(app, subscribers, opts, progress, &mut report).await {
        let problem = match failure {
            StepError::Problem(p) => p,
            StepError::Other(e) => Problem::new(Kind::Local, format!("{e:#}")),
        };
        report.status = if problem.kind == Kind::Interrupted {
            tracing::warn!(error = %problem, "the run was interrupted; the next run finishes the day");
            RunStatus::Interrupted
        } else {
            tracing::error!(error = %problem, "the run failed");
            RunStatus::Failed
        };
        report.error = Some(match report.error.take() {
            Some(e) => format!("{problem}; {e}"),
            None => problem.to_string(),
        });
        report.problem = Some(problem);
    }
    app.store
        .finish_run(run_id, report.status, report.error.as_deref())
        .await?;
    Ok(report)
}

/// Why a run stopped part-way.
enum StepError {
    /// A failure we know the kind of (arXiv, shutdown).
    Problem(Problem),
    /// Anything else (the store, the outbox), recorded as a local problem.
    Other(anyhow::Error),
}

impl From<anyhow::Error> for StepError {
    fn from(e: anyhow::Error) -> StepError {
        StepError::Other(e)
    }
}

/// The day's steps in order: fetch and store, set aside, sort out who is due, prepare, send,
/// archive; then the run's status from how each subscriber fared.
async fn steps(
    app: &App,
    subscribers: &[Subscriber],
    opts: &DigestOptions,
    progress: &dyn Progress,
    report: &mut RunReport,
) -> Result<(), StepError> {
    let run_id = report.run_id;
    let Some(mut announcement) = announced(app, opts, report).await? else {
        return Ok(());
    };
    let day = announcement.day;
    let read = with_preprints(app, &mut announcement, report).await?;
    let preprint_problem = read.problem();
    if announcement.papers.is_empty() {
        tracing::info!(%day, "no papers from any source: no model calls, no emails");
        report.status = RunStatus::NoAnnouncement;
        if let Some(p) = preprint_problem {
            report.status = RunStatus::Failed;
            report.error = Some(p.to_string());
            report.problem = Some(p);
        }
        return Ok(());
    }

    let outbox = outbox_for(app, opts)?;

    if opts.again && !opts.dry_run {
        set_aside(app, subscribers, day).await?;
    }

    // Subscribers with a delivery row for the day: finish or skip it; nobody is scored twice.
    let unread: Vec<Source> = read.failed.iter().map(|(s, _)| *s).collect();
    let fresh = sort_out(app, &outbox, subscribers, opts, day, &unread, report).await?;

    let mut prepared = prepare(app, run_id, &fresh, &announcement, None, progress).await?;
    mark_unread(&mut prepared, &unread);
    tracing::info!(digests = prepared.len(), "digests built; sending");
    for r in send_all(app, &outbox, prepared, run_id, opts).await {
        report.subscribers.push(r?);
    }

    let archive_problem = if opts.dry_run {
        None
    } else {
        write_archive(app, subscribers, day).await
    };
    report.settle_with(
        preprint_problem
            .into_iter()
            .chain(archive_problem)
            .collect(),
    );
    Ok(())
}

/// Fetches the announcement (given up on shutdown) and names the run's day. `None` when arXiv
/// was read and announced no papers: the run is recorded as a day without an announcement.
async fn announced(
    app: &App,
    opts: &DigestOptions,
    report: &mut RunReport,
) -> Result<Option<Announcement>, StepError> {
    let run_id = report.run_id;
    let fetched = tokio::select! {
        f = fetch(app, opts) => f,
        _ = app.cancel.cancelled() => Err(Problem::new(Kind::Interrupted, "interrupted by shutdown while fetching; the next run tries again")),
    };
    let announcement = fetched.map_err(StepError::Problem)?;
    let day = announcement.day;
    report.day = Some(day);
    let arxiv_read = opts.feed.is_some() || !app.config.arxiv_categories().is_empty();
    if announcement.papers.is_empty() && arxiv_read {
        tracing::info!(%day, "arXiv announced no papers (weekend or holiday): no model calls, no emails");
        app.store.run_fetched(run_id, day, 0).await?;
        report.status = RunStatus::NoAnnouncement;
        return Ok(None);
    }
    Ok(Some(announcement))
}

/// Adds the preprint servers' papers to `announcement` and stores it: bioRxiv and medRxiv, what
/// their open windows hold, and what an earlier run of the day read. Returns what was read.
async fn with_preprints(
    app: &App,
    announcement: &mut Announcement,
    report: &mut RunReport,
) -> Result<preprints::Read, StepError> {
    let day = announcement.day;
    let read = tokio::select! {
        r = preprints::read(app, day) => r?,
        _ = app.cancel.cancelled() => return Err(StepError::Problem(Problem::new(Kind::Interrupted, "interrupted by shutdown while reading preprints; the next run tries again"))),
    };
    announcement.papers.extend(read.papers.iter().cloned());
    let have = announcement.papers.iter().map(|p| p.id.clone()).collect();
    announcement
        .papers
        .extend(preprints::stored(app, day, have).await?);
    report.papers_fetched = announcement.papers.len();
    store_announcement(app, report.run_id, announcement).await?;
    preprints::record(app, &read).await?;
    Ok(read)
}

/// The outbox the run sends through: dry runs write to the outbox folder whatever the transport.
fn outbox_for(app: &App, opts: &DigestOptions) -> anyhow::Result<crate::outbox::Outbox> {
    Ok(if opts.dry_run {
        let dir = app.config.resolve(&app.config.mail.outbox);
        app.outbox.through(std::sync::Arc::new(
            crate::mail::transport::FileTransport::new(&dir)?,
        ))
    } else {
        app.outbox.clone()
    })
}

/// Sets aside each subscriber's earlier digest of `day`, so the day is sent to them again.
async fn set_aside(app: &App, subscribers: &[Subscriber], day: NaiveDate) -> anyhow::Result<()> {
    for sub in subscribers {
        let had = app.store.supersede_delivery(&sub.email, day).await?;
        if had {
            tracing::warn!(subscriber = %sub.email, %day, "the earlier digest of the day is kept aside and the day is sent again");
        }
    }
    Ok(())
}

/// Reports the subscribers who get no new digest today (paused, every source unread, or with a
/// delivery row for the day, which is finished or skipped) and returns the others, in order.
async fn sort_out(
    app: &App,
    outbox: &crate::outbox::Outbox,
    subscribers: &[Subscriber],
    opts: &DigestOptions,
    day: NaiveDate,
    unread: &[Source],
    report: &mut RunReport,
) -> anyhow::Result<Vec<Subscriber>> {
    let all_categories = app.config.categories();
    let mut fresh = Vec::new();
    for sub in subscribers {
        let email = sub.email.to_string();
        if sub.paused {
            report
                .subscribers
                .push(simple(&email, SubscriberStatus::Paused, None, None));
            continue;
        }
        let sources = Source::of(sub.categories.as_ref().unwrap_or(&all_categories));
        if !sources.is_empty() && sources.iter().all(|s| unread.contains(s)) {
            let names: Vec<&str> = sources.iter().map(|s| s.name()).collect();
            report.subscribers.push(simple(
                &email,
                SubscriberStatus::SourceUnavailable,
                Some(format!(
                    "{} could not be read; the next run reads the missed days and sends their papers",
                    names.join(" and ")
                )),
                None,
            ));
            continue;
        }
        if !opts.dry_run {
            if let Some(d) = app.store.delivery(&sub.email, day).await? {
                report.subscribers.push(resume(app, outbox, sub, d).await?);
                continue;
            }
        }
        fresh.push(sub.clone());
    }
    Ok(fresh)
}

/// Notes in each digest which of its sources could not be read today.
fn mark_unread(prepared: &mut [Prepared], unread: &[Source]) {
    for p in prepared {
        p.digest.unread = p
            .digest
            .sources
            .iter()
            .copied()
            .filter(|s| unread.contains(s))
            .collect();
    }
}

/// Sends the prepared digests, several in flight over the pooled connections; the reports keep
/// the file's order.
async fn send_all(
    app: &App,
    outbox: &crate::outbox::Outbox,
    prepared: Vec<Prepared>,
    run_id: i64,
    opts: &DigestOptions,
) -> Vec<anyhow::Result<SubscriberReport>> {
    futures::stream::iter(
        prepared
            .into_iter()
            .map(|p| handle(app, outbox, p, run_id, opts)),
    )
    .buffered(app.config.mail.concurrency.max(1))
    .collect()
    .await
}

/// Sends (or deliberately does not send) one prepared digest and records the outcome.
async fn handle(
    app: &App,
    outbox: &crate::outbox::Outbox,
    p: Prepared,
    run_id: i64,
    opts: &DigestOptions,
) -> anyhow::Result<SubscriberReport> {
    let mut outcome = p.outcome();
    let sub = &p.digest.subscriber;
    let mut delivered_to = None;
    if app.cancel.is_cancelled() {
        // Shutting down: nothing new is started; the next run delivers this digest.
        outcome.status = SubscriberStatus::Interrupted;
        outcome.detail = Some("paperboy was shutting down; the next run sends this digest".into());
        outcome.problem = Some(Problem::new(Kind::Interrupted, "shut down during the run"));
    } else if let Some(next) = p.not_due {
        // A weekly reader between digests: scored today (verdicts kept), sent with the next.
        outcome.status = SubscriberStatus::NotDue;
        outcome.detail = Some(format!(
            "weekly: the next digest goes out with the first run on or after {next}"
        ));
    } else if p.nothing_scored() {
        // No digest that would look like a quiet day: the papers stay owed and a later run
        // (once the cause is fixed) sends them.
        outcome.status = SubscriberStatus::NotScored;
        outcome.detail = p.digest.unscored.first().map(|u| u.reason.to_string());
        if !opts.dry_run {
            keep_owed(app, &p).await?;
        }
    } else if p.digest.is_empty() && p.digest.unscored.is_empty() && !sub.send_empty {
        outcome.status = SubscriberStatus::NothingToSend;
        outcome.detail =
            Some("nothing matched; this subscriber opted out of empty-day notes".into());
        if !opts.dry_run {
            keep_owed(app, &p).await?;
        }
    } else {
        let sent = deliver(app, outbox, &p, run_id, opts.dry_run).await?;
        outcome.status = sent.status;
        outcome.detail = sent.detail;
        delivered_to = sent.to;
        if sent.problem.is_some() {
            outcome.problem = sent.problem;
        }
        if let (None, Some(first)) = (&outcome.detail, p.digest.unscored.first()) {
            outcome.detail = Some(format!(
                "{} papers could not be scored (owed to the reader for a later digest): {}",
                p.digest.unscored.len(),
                first.reason
            ));
        }
    }
    app.store.record_run_subscriber(run_id, &outcome).await?;
    Ok(SubscriberReport {
        outcome,
        usage: p.usage,
        delivered_to,
    })
}

/// Brings each reader's web archive up to date with `day` (when `[archive]` is configured). A
/// page that cannot be written never holds up a digest, but degrades the run (its record and
/// the admin's alert say so) and is left for `paperboy archive rebuild`.
async fn write_archive(app: &App, subscribers: &[Subscriber], day: NaiveDate) -> Option<Problem> {
    let archive = app.config.archive.as_ref()?;
    let dir = app.config.resolve(&archive.dir);
    let mut failed: Vec<String> = Vec::new();
    for sub in subscribers {
        let reply = match app.store.reply_addresses(&app.config, &sub.email).await {
            Ok(r) => r,
            Err(e) => {
                failed.push(format!("{e:#}"));
                continue;
            }
        };
        if let Err(e) = crate::archive::update(
            &app.store,
            &dir,
            archive.base_url.as_deref(),
            sub,
            Some(&[day]),
            reply,
        )
        .await
        {
            tracing::error!(subscriber = %sub.email, error = %format!("{e:#}"), "could not write the web archive; `paperboy archive rebuild` writes it again");
            failed.push(format!("{e:#}"));
        }
    }
    let first = failed.first()?;
    Some(Problem::new(
        Kind::Local,
        format!(
            "the web archive could not be written for {} reader{} ({first}); the digests were sent; `paperboy archive rebuild` writes it again",
            failed.len(),
            if failed.len() == 1 { "" } else { "s" }
        ),
    ))
}

/// Fetches the announcement the options ask for (file, API day or latest RSS).
pub async fn fetch(app: &App, opts: &DigestOptions) -> Result<Announcement, Problem> {
    let categories = app.config.arxiv_categories();
    let announcement = if let Some(path) = &opts.feed {
        let xml = tokio::fs::read_to_string(path).await.map_err(|e| {
            Problem::new(
                Kind::Local,
                format!("cannot read the feed file {}: {e}", path.display()),
            )
        })?;
        parse_rss(&xml).map_err(|e| {
            let kind = match e {
                crate::sources::arxiv::FeedError::ErrorFeed(_) => Kind::ArxivErrorFeed,
                _ => Kind::ArxivMalformed,
            };
            Problem::new(kind, format!("{}: {e}", path.display()))
        })?
    } else if categories.is_empty() {
        // Preprint servers only: the run's day is the calendar's.
        crate::sources::arxiv::Announcement {
            day: opts.date.unwrap_or_else(|| app.clock.now().date_naive()),
            papers: Vec::new(),
            rejected: Vec::new(),
        }
    } else {
        let got = match opts.date {
            Some(day) => app.arxiv.day(&categories, day).await,
            None => app.arxiv.latest(&categories).await,
        };
        got.map_err(|e| e.problem())?
    };
    for r in &announcement.rejected {
        tracing::warn!(item = %r, "skipped an unreadable feed item");
    }
    Ok(announcement)
}

pub async fn store_announcement(app: &App, run_id: i64, a: &Announcement) -> anyhow::Result<()> {
    tracing::info!(day = %a.day, papers = a.papers.len(), "fetched the announcement");
    app.store
        .save_fetched_announcement(run_id, a.day, a.papers.clone())
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
        None => app.store.latest_announced_day().await?,
    };
    if let Some(day) = day {
        let papers = app.store.announced_papers(day).await?;
        if !papers.is_empty() {
            let n = papers.len();
            app.store.run_fetched(run_id, day, n).await?;
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
