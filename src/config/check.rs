//! The value checks run after loading (names and types are checked while loading): every
//! problem at once, as (dotted key, message).

use super::{Config, PreprintConfig};
use crate::domain::{AnnounceType, Category, Source};

/// Where the checks report a problem: called with (dotted key, message).
type Bad<'a> = dyn FnMut(&str, String) + 'a;

impl Config {
    /// Every problem with the values (types and names are checked while loading), as
    /// (dotted key, message).
    pub(super) fn check(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        let mut bad = |key: &str, message: String| out.push((key.to_string(), message));
        self.check_urls(&mut bad);
        if self.arxiv.categories.is_empty() && self.preprints().next().is_none() {
            bad(
                "arxiv.categories",
                "list at least one category, e.g. [\"cs.LG\"] (or configure [biorxiv] or [medrxiv])".into(),
            );
        }
        for (source, pre) in self.preprints() {
            check_preprint(source, pre, &mut bad);
        }
        self.check_arxiv(&mut bad);
        self.check_llm_and_mail(&mut bad);
        // The time zone and the cron expression each on their own: one round finds both.
        if self.schedule.timezone.parse::<chrono_tz::Tz>().is_err() {
            if let Err(e) =
                crate::config::schedule::Schedule::parse("0 0 0 * * *", &self.schedule.timezone)
            {
                bad("schedule.timezone", e);
            }
        }
        if let Err(e) = crate::config::schedule::Schedule::parse(&self.schedule.cron, "UTC") {
            bad("schedule.cron", e);
        }
        self.check_budget(&mut bad);
        if let Some(e) = &self.admin.email {
            if let Err(err) = e.parse::<lettre::Address>() {
                bad(
                    "admin.email",
                    format!("`{e}` is not a mail address ({err})"),
                );
            }
        }
        if let Some(w) = &self.admin.webhook {
            match reqwest::Url::parse(w.trim()) {
                Ok(u) if matches!(u.scheme(), "https" | "http") && u.host_str().is_some() => {}
                _ => bad(
                    "admin.webhook",
                    format!(
                        "`{w}` is not a web address; write the incoming webhook's https:// URL"
                    ),
                ),
            }
        }
        if let Some(imap) = &self.imap {
            if imap.username.trim().is_empty() {
                bad(
                    "imap.username",
                    "set the login of the mailbox replies arrive in".into(),
                );
            }
        }
        out
    }

    /// The web addresses: the archive's (when set), arXiv's and the model endpoint's.
    fn check_urls(&self, bad: &mut Bad) {
        if let Some(url) = self.archive.as_ref().and_then(|a| a.base_url.as_deref()) {
            if let Err(e) = check_url(url) {
                bad("archive.base_url", e);
            }
        }
        for (key, url) in [
            ("arxiv.rss_url", &self.arxiv.rss_url),
            ("arxiv.api_url", &self.arxiv.api_url),
            ("llm.base_url", &self.llm.base_url),
        ] {
            if let Err(e) = check_url(url) {
                bad(key, e);
            }
        }
    }

    /// The `[arxiv]` categories and announce types, each a known one.
    fn check_arxiv(&self, bad: &mut Bad) {
        for c in &self.arxiv.categories {
            match Category::parse(c) {
                Err(e) => bad("arxiv.categories", e.to_string()),
                Ok(cat) if !cat.is_known() => bad(
                    "arxiv.categories",
                    format!(
                        "`{c}` is not an arXiv category; did you mean {}? (the list: https://arxiv.org/category_taxonomy)",
                        did_you_mean(Source::Arxiv, c)
                    ),
                ),
                Ok(_) => {}
            }
        }
        for t in &self.arxiv.announce_types {
            if AnnounceType::parse(t).is_none() {
                bad(
                    "arxiv.announce_types",
                    format!(
                        "`{t}` is not an announce type; use any of {:?}",
                        AnnounceType::ALL
                    ),
                );
            }
        }
    }

    /// The model's batch sizes, concurrency and name; mail's concurrency and addresses.
    fn check_llm_and_mail(&self, bad: &mut Bad) {
        if self.llm.batch_size == 0 || self.llm.batch_size > 200 {
            bad("llm.batch_size", "must be between 1 and 200".into());
        }
        if self.llm.triage_batch_size == 0 || self.llm.triage_batch_size > 1000 {
            bad("llm.triage_batch_size", "must be between 1 and 1000".into());
        }
        if self.llm.concurrency == 0 {
            bad("llm.concurrency", "must be at least 1".into());
        }
        if self.llm.context_tokens.is_some_and(|t| t < 4_096) {
            bad(
                "llm.context_tokens",
                "must be at least 4096 (the model's context window in tokens)".into(),
            );
        }
        let e = &self.embeddings;
        if e.batch_size == 0 || e.batch_size > 2048 {
            bad("embeddings.batch_size", "must be between 1 and 2048".into());
        }
        if !(16..=512).contains(&e.max_tokens) {
            bad(
                "embeddings.max_tokens",
                "must be between 16 and 512 word pieces (the default model reads up to 256)".into(),
            );
        }
        if e.top_k == 0 {
            bad("embeddings.top_k", "must be at least 1".into());
        }
        if !e.min_z.is_finite() {
            bad(
                "embeddings.min_z",
                "must be a number of standard deviations, e.g. 10".into(),
            );
        }
        if !(-1.0..=1.0).contains(&e.min_similarity) {
            bad(
                "embeddings.min_similarity",
                "must be a cosine similarity between -1 and 1".into(),
            );
        }
        if self.mail.concurrency == 0 || self.mail.concurrency > 64 {
            bad("mail.concurrency", "must be between 1 and 64".into());
        }
        if self.llm.model.trim().is_empty() {
            bad(
                "llm.model",
                "must name a model, e.g. \"gpt-4o-mini\"".into(),
            );
        }
        if let Err(e) = self.from_mailbox() {
            bad("mail.from", e);
        }
        match self.reply_address() {
            // Unset, it is `from`'s address: said once, under `mail.from`.
            Err(_) if self.mail.reply_to.is_none() => {}
            Err(e) => bad("mail.reply_to", e),
            Ok(reply) if reply.user().contains('+') => bad(
                "mail.reply_to",
                format!("`{reply}` already has a +tag; paperboy adds its own"),
            ),
            Ok(_) => {}
        }
    }

    /// The budget limits, when set: positive amounts.
    fn check_budget(&self, bad: &mut Bad) {
        for (key, v) in [
            ("budget.daily_usd", self.budget.daily_usd),
            ("budget.monthly_usd", self.budget.monthly_usd),
            ("budget.replies_usd", self.budget.replies_usd),
        ] {
            if v.is_some_and(|v| v.is_nan() || v <= 0.0) {
                bad(
                    key,
                    "must be a positive amount of dollars, e.g. 0.50".into(),
                );
            }
        }
    }
}

/// A `[biorxiv]` or `[medrxiv]` section: its address, limits and subjects (known, none twice).
fn check_preprint(source: Source, pre: &PreprintConfig, bad: &mut Bad) {
    let section = source.as_str();
    if let Err(e) = check_url(&pre.api_url) {
        bad(&format!("{section}.api_url"), e);
    }
    if pre.categories.is_empty() {
        bad(
            &format!("{section}.categories"),
            format!(
                "list at least one {} subject, e.g. [\"neuroscience\"]",
                source.name()
            ),
        );
    }
    if pre.timeout_secs == 0 {
        bad(
            &format!("{section}.timeout_secs"),
            "must be at least 1 (seconds)".into(),
        );
    }
    if pre.max_attempts == 0 {
        bad(
            &format!("{section}.max_attempts"),
            "must be at least 1".into(),
        );
    }
    let mut listed = std::collections::HashSet::new();
    for c in &pre.categories {
        match Category::subject(source, c) {
            Err(e) => bad(&format!("{section}.categories"), e.to_string()),
            Ok(cat) => {
                if !listed.insert(cat.clone()) {
                    bad(
                        &format!("{section}.categories"),
                        format!("`{c}` is listed twice (as `{}`)", cat.name()),
                    );
                }
                if !cat.is_known() {
                    bad(
                        &format!("{section}.categories"),
                        format!(
                            "`{c}` is not a {} subject; did you mean {}?",
                            source.name(),
                            did_you_mean(source, c)
                        ),
                    );
                }
            }
        }
    }
}

fn check_url(url: &str) -> Result<(), String> {
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(()),
        Ok(u) => Err(format!(
            "`{url}` is not an http(s) address (scheme `{}`)",
            u.scheme()
        )),
        Err(e) => Err(format!(
            "`{url}` is not a web address ({e}); write it like \"https://example.org/path\""
        )),
    }
}

/// The names of `source` closest to `raw`, as "`a` or `b` or `c`".
fn did_you_mean(source: Source, raw: &str) -> String {
    Category::nearest_in(source, raw)
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(" or ")
}
