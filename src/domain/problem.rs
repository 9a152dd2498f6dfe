//! What can go wrong in a run, as types: each problem knows its advice for the admin and what a
//! reader may be told. Nothing downstream reads error text to decide what happened.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The model endpoint could not be reached (connection refused, DNS, TLS, timeouts).
    ModelUnreachable,
    /// The endpoint rejected the API key (401/403).
    ModelRejectedKey,
    /// The provider's quota is used up (429 insufficient_quota).
    ModelQuota,
    /// The endpoint does not know the model (404).
    ModelUnknown,
    /// The endpoint failed the call after its retries (5xx, refused request, unreadable answer).
    ModelFailed,
    /// The model answered, but never with a valid verdict for these papers.
    ModelNoAnswer,
    /// The endpoint refused a prompt as longer than its context window (HTTP 400
    /// `context_length_exceeded`), even after the call was split down to one paper.
    ModelContextTooLong,
    /// `[budget]` daily or monthly limit reached.
    Budget,
    /// paperboy was stopped during the run.
    Interrupted,
    /// arXiv could not be reached or kept failing.
    ArxivUnreachable,
    /// arXiv refused the request as wrong (HTTP 4xx other than 408/429): the URL is wrong.
    ArxivRefused,
    /// arXiv answered with its error feed (e.g. an unknown category).
    ArxivErrorFeed,
    /// arXiv's answer could not be read.
    ArxivMalformed,
    /// bioRxiv or medRxiv could not be read (unreachable, 5xx, an answer that is not its JSON).
    PreprintUnavailable,
    /// The mail server refused for now (4xx, connection refused); retried.
    SmtpTemporary,
    /// The mail server refused an address for good (5xx).
    SmtpRefused,
    /// Local trouble: the store, the outbox, the archive folder.
    Local,
}

/// One problem: its kind and what exactly happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub kind: Kind,
    pub detail: String,
}

impl Problem {
    pub fn new(kind: Kind, detail: impl Into<String>) -> Problem {
        Problem {
            kind,
            detail: crate::support::redact::redact(&detail.into()).into_owned(),
        }
    }

    /// Whether no further model call can succeed this run.
    pub fn stops_scoring(&self) -> bool {
        matches!(
            self.kind,
            Kind::ModelRejectedKey
                | Kind::ModelQuota
                | Kind::ModelUnknown
                | Kind::Budget
                | Kind::Interrupted
        )
    }

    /// What the admin should do about it.
    pub fn advice(&self) -> &'static str {
        match self.kind {
            Kind::ModelUnreachable => "The model endpoint could not be reached: check [llm] base_url and the network. The papers stay owed to their readers and are scored on the next run.",
            Kind::ModelRejectedKey => "Renew the model API key (the environment variable named by [llm] api_key_env) and restart paperboy; the papers stay owed and go out on the next run.",
            Kind::ModelQuota => "Add credit at the model provider or raise the limit there; the next run scores what is owed.",
            Kind::ModelUnknown => "The endpoint does not know [llm] model: fix the model name or base_url in paperboy.toml.",
            Kind::ModelFailed => "The model endpoint kept failing; if it persists, check the provider's status. The papers stay owed and are scored on the next run.",
            Kind::ModelContextTooLong => "The model endpoint refused prompts as longer than its context window even after splitting them: set [llm] context_tokens to the window of your model (a smaller value means smaller calls). The papers stay owed and are scored on the next run.",
            Kind::ModelNoAnswer => "The model never gave a valid verdict for some papers (see `paperboy runs show`); a different model or a smaller [llm] batch_size may help. They are asked again on the next run.",
            Kind::Budget => "The spending limit in [budget] was reached. Raise daily_usd / monthly_usd if this was expected; otherwise nothing to do: owed papers are scored when the budget allows.",
            Kind::Interrupted => "paperboy stopped during the run; the next run finishes the day. Nothing to do unless it keeps happening.",
            Kind::ArxivUnreachable => "arXiv could not be reached. paperboy retries with backoff and catches up missed days; check the network if it persists.",
            Kind::ArxivRefused => "arXiv refused the request as wrong (an HTTP 4xx answer such as 404 Not Found): check [arxiv] rss_url and api_url in paperboy.toml (`paperboy check` tries them). Trying again does not help until they are fixed.",
            Kind::ArxivErrorFeed => "arXiv answered with an error feed: check [arxiv] categories (`paperboy check` names unknown ones).",
            Kind::ArxivMalformed => "arXiv's answer could not be read; paperboy retries. If it persists, the feed format may have changed: please report it.",
            Kind::PreprintUnavailable => "The preprint servers named above could not be read. Their windows stay open: the next run reads the missed days and their papers come in the readers' next digest, once. Check [biorxiv]/[medrxiv] api_url and the network if it persists.",
            Kind::SmtpTemporary => "The mail server refused for now; paperboy retries with backoff. Check [mail.smtp] if it persists.",
            Kind::SmtpRefused => "The mail server refused an address for good (5xx): fix or remove it in subscribers.toml (`paperboy deliveries --failed` shows the server's answer).",
            Kind::Local => "A local file or the store could not be written: check the disk and the permissions of the paths in paperboy.toml.",
        }
    }

    /// What a reader may be told about papers this problem kept from them (never the admin's
    /// business: keys, budgets, endpoints).
    pub fn for_reader(&self) -> &'static str {
        "still being scored; they will come in a later digest"
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

impl std::error::Error for Problem {}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::ModelUnreachable => "model_unreachable",
            Kind::ModelRejectedKey => "model_rejected_key",
            Kind::ModelQuota => "model_quota",
            Kind::ModelUnknown => "model_unknown",
            Kind::ModelFailed => "model_failed",
            Kind::ModelNoAnswer => "model_no_answer",
            Kind::ModelContextTooLong => "model_context_too_long",
            Kind::Budget => "budget",
            Kind::Interrupted => "interrupted",
            Kind::ArxivUnreachable => "arxiv_unreachable",
            Kind::ArxivRefused => "arxiv_refused",
            Kind::ArxivErrorFeed => "arxiv_error_feed",
            Kind::ArxivMalformed => "arxiv_malformed",
            Kind::PreprintUnavailable => "preprint_unavailable",
            Kind::SmtpTemporary => "smtp_temporary",
            Kind::SmtpRefused => "smtp_refused",
            Kind::Local => "local",
        }
    }
}
