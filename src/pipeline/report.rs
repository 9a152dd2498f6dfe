//! What a run did: per subscriber and for the whole run.

use chrono::NaiveDate;

use crate::digest::Digest;
use crate::domain::problem::Problem;
use crate::domain::Money;
use crate::store::runs::{RunStatus, SubscriberOutcome, SubscriberStatus};
use crate::store::spend::Totals;

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
        matches!(
            self.outcome.status,
            SubscriberStatus::NotScored
                | SubscriberStatus::SendFailed
                | SubscriberStatus::SourceUnavailable
        ) || self.outcome.unscored > 0
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
    /// What failed the run as a whole (fetching, the store), typed for the alert.
    pub problem: Option<Problem>,
}

impl RunReport {
    /// Whether a one-shot command should exit non-zero.
    pub fn failed(&self) -> bool {
        matches!(self.status, RunStatus::Failed | RunStatus::Interrupted)
            || self.problem.is_some()
            || self.subscribers.iter().any(SubscriberReport::failed)
    }

    /// Every typed problem of the run, the run's own first.
    /// What the admin's alert says about this run.
    pub fn alert(&self) -> crate::alerts::RunOutcome<'_> {
        crate::alerts::RunOutcome {
            run_id: self.run_id,
            day: self.day,
            status: self.status,
            error: self.error.as_deref(),
            problems: self.problems(),
        }
    }

    pub fn problems(&self) -> Vec<(Option<&str>, &Problem)> {
        let mut out: Vec<(Option<&str>, &Problem)> =
            self.problem.iter().map(|p| (None, p)).collect();
        for s in &self.subscribers {
            if let Some(p) = &s.outcome.problem {
                out.push((Some(s.outcome.subscriber.as_str()), p));
            }
        }
        out
    }

    /// The run's status and error once every subscriber is handled: failed when shut down part
    /// way or when everyone failed, degraded when some failed or when a problem of the run as a
    /// whole did not stop it (`run_problems`: a preprint server that could not be read, an
    /// archive that could not be written), each said in its error and its alert.
    pub(super) fn settle_with(&mut self, run_problems: Vec<Problem>) {
        let interrupted = self
            .subscribers
            .iter()
            .any(|s| s.outcome.status == SubscriberStatus::Interrupted);
        self.status = if interrupted {
            RunStatus::Interrupted
        } else if self.subscribers.iter().any(SubscriberReport::failed) {
            let all_failed = self
                .subscribers
                .iter()
                .all(|s| s.failed() || s.outcome.status == SubscriberStatus::Paused);
            if all_failed {
                RunStatus::Failed
            } else {
                RunStatus::Degraded
            }
        } else {
            RunStatus::Ok
        };
        let problems: Vec<String> = self
            .subscribers
            .iter()
            .filter(|s| s.failed())
            .map(|s| {
                let why = s
                    .outcome
                    .detail
                    .clone()
                    .unwrap_or_else(|| s.outcome.status.as_str().to_string());
                format!("{}: {why}", s.outcome.subscriber)
            })
            .collect();
        self.error = (!problems.is_empty()).then(|| problems.join("; "));
        // A preprint server that could not be read, an archive not written: everyone got their
        // digest, the run says what is missing.
        for p in run_problems.into_iter().rev() {
            if self.status == RunStatus::Ok {
                self.status = RunStatus::Degraded;
            }
            self.error = Some(match self.error.take() {
                Some(e) => format!("{p}; {e}"),
                None => p.to_string(),
            });
            self.problem = Some(p);
        }
        if interrupted {
            self.error = Some(format!(
                "interrupted by shutdown; the next run finishes the day{}",
                self.error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            ));
        }
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
    /// Candidates judged today (a verdict, or pinned as an author match): no longer owed.
    pub settled: Vec<crate::domain::PaperId>,
    /// A weekly reader between digests: the day their next one is due.
    pub not_due: Option<NaiveDate>,
}

impl Prepared {
    /// Nothing could be scored and nothing was pinned: mailing this would look like a quiet day.
    pub fn nothing_scored(&self) -> bool {
        !self.digest.unscored.is_empty() && !self.scored_any && self.author_matches == 0
    }

    pub(super) fn outcome(&self) -> SubscriberOutcome {
        SubscriberOutcome {
            subscriber: self.digest.subscriber.email.to_string(),
            scanned: self.digest.scanned,
            triage_kept: self.triage_kept,
            scored: self.scored,
            author_matches: self.author_matches,
            selected: self.digest.entries.len(),
            unscored: self.digest.unscored.len(),
            status: SubscriberStatus::Pending,
            detail: None,
            problem: self.digest.unscored.first().map(|u| u.reason.clone()),
        }
    }
}

pub(super) fn simple(
    email: &str,
    status: SubscriberStatus,
    detail: Option<String>,
    problem: Option<Problem>,
) -> SubscriberReport {
    SubscriberReport {
        outcome: SubscriberOutcome {
            subscriber: email.to_string(),
            status,
            detail,
            problem,
            ..Default::default()
        },
        usage: Vec::new(),
        delivered_to: None,
    }
}
