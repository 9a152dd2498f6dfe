//! `paperboy run`: the long-running process. It wakes on the schedule (and at start), makes sure
//! every recent announcement day is done — oldest first, catching up days it missed while down —
//! polls the inbox on its own timer, and stops cleanly on SIGTERM/SIGINT.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::NaiveDate;
use tokio::sync::mpsc;
use tokio_cron_scheduler::{Job, JobScheduler};

use super::App;
use crate::config::schedule::{announcement_date, days_to_check, Schedule};
use crate::domain::SubscriberEmail;
use crate::pipeline::{self, DigestOptions, Quiet};
use crate::subscribers::admin::Subscribers;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wake {
    Start,
    Scheduled,
    /// A retry after a run that failed or degraded.
    Retry,
}

/// The data directory's daemon lock, held for as long as the daemon runs: one daemon per store.
pub type Lock = crate::support::lock::Held;

pub fn lock_path(app_config: &crate::config::Config) -> PathBuf {
    let db = app_config.resolve(&app_config.store.path);
    db.with_extension("lock")
}

pub fn acquire_lock(path: PathBuf) -> anyhow::Result<Lock> {
    crate::support::lock::try_hold(&path, "paperboy run")?.ok_or_else(|| {
        anyhow::anyhow!(
            "another paperboy daemon ({}) holds {}; stop it first",
            crate::support::lock::holder(&path),
            path.display()
        )
    })
}

/// The daemon's pid, when one holds the lock now (for `status`).
pub fn running_pid(path: &std::path::Path) -> Option<String> {
    if !path.exists() {
        return None;
    }
    match crate::support::lock::try_hold(path, "paperboy status") {
        Ok(Some(_free)) => None,
        Ok(None) => {
            let holder = crate::support::lock::holder(path);
            let pid = holder.strip_prefix("pid ").unwrap_or(&holder);
            Some(pid.split(':').next().unwrap_or(pid).trim().to_string())
        }
        Err(_) => None,
    }
}

/// One-shot job at the next firing; it wakes the loop, which then arms the one after.
async fn arm(
    sched: &JobScheduler,
    schedule: &Schedule,
    app: &App,
    tx: &mpsc::Sender<Wake>,
) -> anyhow::Result<Option<uuid::Uuid>> {
    let now = app.clock.now();
    let Some(next) = schedule.next_after(now) else {
        tracing::warn!(cron = schedule.pattern(), "the schedule never fires again");
        return Ok(None);
    };
    let wait = (next - now).to_std().unwrap_or(Duration::ZERO);
    tracing::info!(
        next = %next.with_timezone(&schedule.timezone()).format("%Y-%m-%d %H:%M:%S %Z"),
        "next scheduled run"
    );
    let tx = tx.clone();
    let job = Job::new_one_shot_async(wait, move |_, _| {
        let tx = tx.clone();
        Box::pin(async move {
            let _ = tx.send(Wake::Scheduled).await;
        })
    })
    .context("scheduling the next run")?;
    let id = sched.add(job).await.context("scheduling the next run")?;
    Ok(Some(id))
}

/// The daemon: holds the lock, finishes runs a stopped process left, then catches up at start
/// and at each firing (retrying what is left undone) and polls the inbox, until SIGTERM/SIGINT.
/// SIGHUP reads the configuration and the subscribers file again; a configuration with problems
/// is refused (logged as an error) and the running one kept.
pub async fn run(mut app: Arc<App>) -> anyhow::Result<()> {
    let lock = acquire_lock(lock_path(&app.config))?;
    tracing::info!(lock = %lock.path.display(), pid = std::process::id(), "paperboy daemon starting");
    match crate::support::limits::raise_open_files() {
        Some((from, to)) => tracing::info!(from, to, "raised the open-file limit"),
        None => {
            let (soft, _) = crate::support::limits::open_files();
            if soft.is_some_and(|n| n < 4096) {
                tracing::warn!(limit = soft, "the open-file limit is low for a daemon (LimitNOFILE in the unit; the package's sets 65536)");
            }
        }
    }
    // Under the runs lock: a `paperboy digest` running now is not a stopped process's run.
    let runs = app.hold_runs("paperboy run (starting)").await?;
    let stale = app.store.interrupt_stale_runs().await?;
    drop(runs);
    if stale > 0 {
        tracing::warn!(
            runs = stale,
            "found runs left unfinished by a stopped process; they will be finished now"
        );
    }
    let mut schedule = app.config.run_schedule().map_err(|e| anyhow::anyhow!(e))?;
    cancel_on_signal(&app);
    let mut metrics = start_metrics(&app).await?;
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .context("listening for SIGHUP")?;

    let sched = JobScheduler::new()
        .await
        .context("starting the scheduler")?;
    sched.start().await.context("starting the scheduler")?;
    let (tx, mut rx) = mpsc::channel::<Wake>(16);
    tx.send(Wake::Start).await.ok();
    let mut armed = arm(&sched, &schedule, &app, &tx).await?;

    let poll_every = |app: &App| {
        app.config
            .imap
            .as_ref()
            .map(|i| Duration::from_secs(i.poll_seconds.max(1)))
    };
    let mut inbox_every = poll_every(&app);
    let mut inbox_timer = tokio::time::interval(inbox_every.unwrap_or(Duration::from_secs(3600)));
    inbox_timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut running: Option<tokio::task::JoinHandle<()>> = None;
    // Consecutive catch-ups that left work undone: the retry delay doubles with each.
    let failures = Arc::new(AtomicU32::new(0));
    let mut polling: Option<tokio::task::JoinHandle<()>> = None;

    loop {
        tokio::select! {
            _ = app.cancel.cancelled() => break,
            Some(wake) = rx.recv() => {
                if wake == Wake::Scheduled {
                    armed = arm(&sched, &schedule, &app, &tx).await?;
                }
                if running.as_ref().is_some_and(|h| !h.is_finished()) {
                    tracing::warn!("a run is still going; not starting another (it will be caught up later)");
                    continue;
                }
                running = Some(tokio::spawn(catch_up_or_retry(app.clone(), failures.clone(), tx.clone())));
            }
            _ = hangup.recv() => {
                let Some(new) = reload(&app).await else { continue };
                app = new;
                metrics = move_metrics(metrics, &app).await;
                schedule = app.config.run_schedule().map_err(|e| anyhow::anyhow!(e))?;
                if let Some(id) = armed.take() {
                    let _ = sched.remove(&id).await;
                }
                armed = arm(&sched, &schedule, &app, &tx).await?;
                inbox_every = poll_every(&app);
                inbox_timer = tokio::time::interval(inbox_every.unwrap_or(Duration::from_secs(3600)));
                inbox_timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            }
            _ = inbox_timer.tick(), if inbox_every.is_some() => {
                if polling.as_ref().is_some_and(|h| !h.is_finished()) {
                    continue;
                }
                polling = Some(tokio::spawn(poll_inbox(app.clone())));
            }
        }
    }

    wind_down([running, polling], sched).await;
    Ok(())
}

/// The metrics endpoint while it serves: where, and what stops it.
struct Metrics {
    addr: std::net::SocketAddr,
    stop: tokio_util::sync::CancellationToken,
}

/// Serves the metrics when the configuration asks for them (a taken port fails the start).
async fn start_metrics(app: &App) -> anyhow::Result<Option<Metrics>> {
    let Some(m) = &app.config.metrics else {
        return Ok(None);
    };
    let listener = super::metrics::bind(m.listen).await?;
    let stop = app.cancel.child_token();
    tokio::spawn(super::metrics::serve(
        listener,
        app.store.clone(),
        stop.clone(),
    ));
    Ok(Some(Metrics {
        addr: m.listen,
        stop,
    }))
}

/// After SIGHUP: the endpoint moved, started or stopped as the new configuration says. An
/// address that cannot be had is logged and the endpoint kept where it was.
async fn move_metrics(current: Option<Metrics>, app: &App) -> Option<Metrics> {
    let wanted = app.config.metrics.as_ref().map(|m| m.listen);
    if current.as_ref().map(|m| m.addr) == wanted {
        return current;
    }
    match start_metrics(app).await {
        Ok(new) => {
            if let Some(old) = current {
                old.stop.cancel();
                match &new {
                    Some(m) => {
                        tracing::info!(was = %old.addr, now = %m.addr, "SIGHUP: the metrics endpoint moved")
                    }
                    None => {
                        tracing::info!(was = %old.addr, "SIGHUP: the metrics endpoint stopped ([metrics] was removed)")
                    }
                }
            }
            new
        }
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "SIGHUP: cannot serve the metrics at the new address; they stay where they were");
            current
        }
    }
}

/// SIGHUP: the configuration (from where it was read) and the subscribers file, read and checked
/// again. `None` keeps the running configuration: the problems are logged as an error.
async fn reload(app: &App) -> Option<Arc<App>> {
    let (path, required) = match &app.config.source {
        Some(p) => (p.clone(), true),
        None => (PathBuf::from("paperboy.toml"), false),
    };
    tracing::info!(config = %path.display(), "SIGHUP: reading the configuration again");
    let config = match crate::config::Config::load(&path, required, std::env::vars()) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(problems = %e, "SIGHUP: the configuration has problems; keeping the one running");
            return None;
        }
    };
    let changed = super::reload::changed_keys(
        app.config.source_text.as_deref(),
        config.source_text.as_deref(),
    );
    let drops = super::reload::security_drops(&app.config, &config);
    if !drops.is_empty() {
        if super::reload::accepted(&app.config, config.source_text.as_deref()) {
            tracing::warn!(dropped = %drops.join("; "), "SIGHUP: taking a configuration without protections the running one had, as `paperboy reload --accept` said");
        } else {
            tracing::error!(
                dropped = %drops.join("; "),
                "SIGHUP: the new configuration drops protections the running one has (a file saved half way looks the same); keeping the one running. If this is meant, run `paperboy reload --accept`"
            );
            return None;
        }
    }
    let (running, wanted) = (
        app.config.resolve(&app.config.store.path),
        config.resolve(&config.store.path),
    );
    if running != wanted {
        tracing::error!(
            running = %running.display(),
            asked = %wanted.display(),
            "SIGHUP: [store] path changed; a running daemon keeps its store (and its locks): restart paperboy to move it; keeping the configuration running"
        );
        return None;
    }
    match Subscribers::new(&config).load() {
        Ok(subs) => tracing::info!(
            subscribers = subs.len(),
            "SIGHUP: the subscribers file reads well"
        ),
        Err(e) => {
            tracing::error!(problems = %e, "SIGHUP: the subscribers file has problems; nothing is sent until it is fixed")
        }
    }
    match app.reloaded(config).await {
        Ok(new) => {
            tracing::info!(
                changed = %if changed.is_empty() { "nothing in the file".to_string() } else { changed.join(" ") },
                "SIGHUP: configuration reloaded"
            );
            Some(Arc::new(new))
        }
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "SIGHUP: cannot start with the new configuration; keeping the one running");
            None
        }
    }
}

/// SIGTERM / SIGINT: stop taking new work (cancels `app.cancel`).
fn cancel_on_signal(app: &App) {
    let cancel = app.cancel.clone();
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: finishing up"),
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: finishing up"),
        }
        cancel.cancel();
    });
}

/// Catches up; when work is left undone, wakes the loop again after the retry delay (doubled
/// with each consecutive `failures`), unless shutting down first.
async fn catch_up_or_retry(app: Arc<App>, failures: Arc<AtomicU32>, tx: mpsc::Sender<Wake>) {
    use futures::FutureExt as _;
    let done = match std::panic::AssertUnwindSafe(catch_up(&app))
        .catch_unwind()
        .await
    {
        Ok(Ok(done)) => done,
        Ok(Err(e)) => {
            tracing::error!(error = %format!("{e:#}"), "the run stopped with an error");
            false
        }
        Err(panic) => {
            let why = super::panicked(&*panic);
            // Under the runs lock, so a one-shot run of another process is not touched.
            match app.hold_runs("paperboy run (after a panic)").await {
                Ok(_lock) => app.fail_after_panic(&why).await,
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "could not record the run as failed")
                }
            }
            false
        }
    };
    if done {
        failures.store(0, Ordering::SeqCst);
        return;
    }
    if app.cancel.is_cancelled() {
        // Stopping: the next start catches up; there is no "later" to announce.
        return;
    }
    let n = failures.fetch_add(1, Ordering::SeqCst);
    let wait = retry_delay(&app.config.schedule, n);
    tracing::warn!(
        retry_in_secs = wait.as_secs(),
        "work is left undone; trying again later (and at the next firing)"
    );
    // Waits on its own, so a scheduled firing meanwhile still runs.
    let cancel = app.cancel.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = tokio::time::sleep(wait) => { let _ = tx.send(Wake::Retry).await; }
            _ = cancel.cancelled() => {}
        }
    });
}

/// Polls the inbox once, logging what it handled or why it could not.
async fn poll_inbox(app: Arc<App>) {
    match app.poll_inbox().await {
        Ok(r) if !r.handled.is_empty() => tracing::info!(
            messages = r.handled.len(),
            answers = r.answers_sent,
            "inbox polled"
        ),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %format!("{e:#}"), "could not poll the inbox"),
    }
}

/// Finishes or cleanly abandons what is in flight (20 s each at most), then stops the scheduler.
async fn wind_down(in_flight: [Option<tokio::task::JoinHandle<()>>; 2], mut sched: JobScheduler) {
    for h in in_flight.into_iter().flatten() {
        if tokio::time::timeout(Duration::from_secs(20), h)
            .await
            .is_err()
        {
            tracing::warn!("work still in flight after 20 s; leaving it to the next start");
        }
    }
    let _ = sched.shutdown().await;
    tracing::info!("paperboy daemon stopped");
}

/// The wait before retry number `n` (0-based): the base, doubled each time, at most the maximum.
fn retry_delay(s: &crate::config::ScheduleConfig, n: u32) -> Duration {
    let secs = s
        .retry_base_secs
        .saturating_mul(2u64.saturating_pow(n))
        .min(s.retry_max_secs.max(s.retry_base_secs));
    Duration::from_secs(secs.max(1))
}

/// Makes sure each recent announcement day is done, oldest first. Returns whether they all are.
pub async fn catch_up(app: &App) -> anyhow::Result<bool> {
    let now = app.clock.now();
    let today = announcement_date(now);
    let mut ran = 0;
    let mut all_done = true;
    let mut days = days_to_check(now, app.config.schedule.catch_up_days);
    match app.store.first_run_day().await? {
        // A new store starts with the latest announcement: no mail for days before it existed.
        None => {
            days = days.last().copied().into_iter().collect();
            if let Some(day) = days.first() {
                tracing::info!(%day, "a new store: starting with the latest announcement day; earlier days are not sent");
            }
        }
        Some(first) => days.retain(|d| *d >= first),
    }
    for day in days {
        if app.cancel.is_cancelled() {
            break;
        }
        let mut complete = app.store.day_complete(day).await?;
        if complete && day == today {
            // Someone subscribed after today's run: today's digest is still theirs. (Past days
            // are not sent to newcomers.)
            let active: Vec<SubscriberEmail> = Subscribers::new(&app.config)
                .load()
                .map(|all| {
                    all.into_iter()
                        .filter(|s| !s.paused)
                        .map(|s| s.email)
                        .collect()
                })
                .unwrap_or_default();
            let missing: Vec<String> = app
                .store
                .uncovered_subscribers(day, &active)
                .await?
                .iter()
                .map(ToString::to_string)
                .collect();
            if !missing.is_empty() {
                tracing::info!(%day, subscribers = %missing.join(", "), "new subscribers since today's run");
                complete = false;
            }
        }
        if complete {
            continue;
        }
        run_day(app, day, day == today).await?;
        ran += 1;
        if !app.store.day_complete(day).await? {
            all_done = false;
        }
    }
    if app.cancel.is_cancelled() {
        tracing::info!(
            days_run = ran,
            "catch-up stopped by shutdown; the next start finishes it"
        );
    } else if all_done {
        tracing::info!(
            days_run = ran,
            all_done,
            "catch-up done: the recent announcement days are taken care of"
        );
    } else {
        tracing::info!(
            days_run = ran,
            all_done,
            "catch-up done: some work is left for a later try"
        );
    }
    Ok(all_done)
}

async fn run_day(app: &App, day: NaiveDate, today: bool) -> anyhow::Result<()> {
    let subscribers = match Subscribers::new(&app.config).load() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(problems = %e, "the subscribers file has problems; nothing is sent until it is fixed");
            return Ok(());
        }
    };
    // Today's announcement from the RSS feed; earlier days from the API.
    let opts = DigestOptions {
        date: (!today).then_some(day),
        ..Default::default()
    };
    let _runs = app.hold_runs("paperboy run").await?;
    tracing::info!(%day, source = if today { "RSS" } else { "API" }, "running the digest");
    let report = pipeline::run_digest(app, &subscribers, &opts, &Quiet).await?;
    tracing::info!(
        run = report.run_id,
        day = %report.day.map(|d| d.to_string()).unwrap_or_default(),
        status = report.status.as_str(),
        delivered = report.subscribers.iter().filter(|s| s.outcome.status == crate::store::runs::SubscriberStatus::Delivered).count(),
        "run finished"
    );
    app.alert_after(&report).await?;
    app.tidy_store(&report).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_from_15_minutes_to_2_hours() {
        let s = crate::config::ScheduleConfig::default();
        let mins: Vec<u64> = (0..6).map(|n| retry_delay(&s, n).as_secs() / 60).collect();
        assert_eq!(mins, vec![15, 30, 60, 120, 120, 120]);
    }
}
