//! Layered configuration: defaults in code → `paperboy.toml` → `PAPERBOY__SECTION__KEY`
//! environment variables. Every key has a default, so a missing file still runs.
//! Secrets never live here: only the *names* of the environment variables that hold them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::domain::{AnnounceType, Category};

mod check;
mod embeddings;
mod imap;
mod load;
pub mod schedule;
mod secrets;
mod typed;

pub use embeddings::{holds_model, EmbeddingSource, EmbeddingsConfig, MODEL_FILES};
pub use imap::ImapConfig;
pub use load::{ConfigError, ConfigProblem};

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Path of the subscribers file.
    pub subscribers: PathBuf,
    /// Directory of the prompt files (`instructions.md`, topic files).
    pub prompts: PathBuf,
    pub arxiv: ArxivConfig,
    /// bioRxiv subjects to read; `None` (no `[biorxiv]` section): not read.
    pub biorxiv: Option<PreprintConfig>,
    /// medRxiv subjects to read; `None` (no `[medrxiv]` section): not read.
    pub medrxiv: Option<PreprintConfig>,
    pub llm: LlmConfig,
    /// The embedding stage (off while its model is empty).
    pub embeddings: EmbeddingsConfig,
    pub store: StoreConfig,
    pub mail: MailConfig,
    /// The inbox paperboy reads replies from; `None` (no `[imap]` section): replies are not read.
    pub imap: Option<ImapConfig>,
    pub schedule: ScheduleConfig,
    pub budget: BudgetConfig,
    pub admin: AdminConfig,
    /// The web archive of every reader's digests; `None` (no `[archive]` section): none is written.
    pub archive: Option<ArchiveConfig>,
    /// Subscribing by mail (double opt-in).
    pub subscribe: SubscribeConfig,
    /// The daemon's metrics endpoint (Prometheus text); `None` (no `[metrics]` section): none.
    pub metrics: Option<MetricsConfig>,
    /// Directory relative paths are resolved against (the config file's directory).
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// Where the configuration was read from (`None`: defaults only).
    #[serde(skip)]
    pub source: Option<PathBuf>,
    /// The file's text as it was read (for a reload to say what changed).
    #[serde(skip)]
    pub source_text: Option<String>,
    /// The file (or the environment) has an `[llm]` section: a model is asked for, so its key
    /// must be there. Without one the keyword scorer runs.
    #[serde(skip)]
    pub llm_configured: bool,
    /// The values that are text in the file, parsed once (on first use, after loading and
    /// checking); nothing parses them again.
    #[serde(skip)]
    typed: std::sync::OnceLock<typed::Typed>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ArxivConfig {
    pub categories: Vec<String>,
    pub announce_types: Vec<String>,
    pub rss_url: String,
    pub api_url: String,
    pub timeout_secs: u64,
    /// arXiv asks for at most one request every 3 seconds.
    pub min_interval_ms: u64,
    pub retry_base_ms: u64,
    pub max_attempts: u32,
}

/// `[biorxiv]` / `[medrxiv]`: subjects of a preprint server, read by calendar windows.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PreprintConfig {
    /// Subject names as the server writes them ("neuroscience", "cell biology").
    pub categories: Vec<String>,
    pub api_url: String,
    /// How many days back a first read starts.
    pub catch_up_days: u32,
    pub timeout_secs: u64,
    /// At most one request a second.
    pub min_interval_ms: u64,
    pub retry_base_ms: u64,
    pub max_attempts: u32,
}

impl Default for PreprintConfig {
    fn default() -> Self {
        PreprintConfig {
            categories: Vec::new(),
            api_url: "https://api.biorxiv.org".into(),
            catch_up_days: 3,
            timeout_secs: 60,
            min_interval_ms: 1_000,
            retry_base_ms: 5_000,
            max_attempts: 4,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmConfig {
    pub base_url: String,
    pub model: String,
    pub api_key_env: String,
    /// A file holding the key instead (relative: under `$CREDENTIALS_DIRECTORY` when systemd
    /// passes credentials, else beside this file). Read before `api_key_env`.
    pub api_key_file: Option<PathBuf>,
    /// Papers per verdict call (each with the readers it is scored for).
    pub batch_size: usize,
    pub concurrency: usize,
    /// A title pass for all readers at once before the full verdicts; `false` gives every
    /// paper a full verdict for every reader.
    pub triage: bool,
    /// Titles per triage call.
    pub triage_batch_size: usize,
    /// A one-sentence TL;DR per paper shown, in the reader's language (costs ~35 completion
    /// tokens a paper); `false` leaves it out.
    pub tldr: bool,
    pub timeout_secs: u64,
    /// Attempts per call for failures the HTTP layer does not retry itself (timeouts, 5xx after
    /// its own retries, unreadable bodies).
    pub max_attempts: u32,
    pub retry_base_ms: u64,
    /// How many times papers missing from an answer are asked for again.
    pub reask_attempts: u32,
    pub max_completion_tokens: Option<u32>,
    /// The model's context window in tokens (default: the model's published window): every
    /// prompt, with room for its answer, is built to fit.
    pub context_tokens: Option<u64>,
    /// Price overrides or additions, USD per 1M tokens.
    pub prices: BTreeMap<String, PriceOverride>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceOverride {
    pub input: f64,
    pub cached_input: Option<f64>,
    pub output: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    pub path: PathBuf,
    /// Days of digest bytes, pages, triage decisions and answered replies to keep; older ones
    /// are pruned after each run (`None`: kept for ever). The ledger of papers sent, the runs,
    /// the verdicts and the spend are never pruned.
    pub keep_days: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    File,
    Smtp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    Starttls,
    Tls,
    None,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScheduleConfig {
    /// Six fields with seconds: `sec min hour day-of-month month day-of-week`.
    pub cron: String,
    /// IANA time zone the cron expression is read in.
    pub timezone: String,
    /// How many earlier announcement days (weekdays) to catch up on after downtime.
    pub catch_up_days: u32,
    /// Retries of a transient send failure within one run.
    pub send_attempts: u32,
    pub send_retry_base_ms: u64,
    /// After a failed or degraded run the daemon tries again after this long, doubling up to
    /// `retry_max_secs`, rather than waiting for the next firing.
    pub retry_base_secs: u64,
    pub retry_max_secs: u64,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig {
            cron: "0 30 6 * * Mon-Fri".into(),
            timezone: "UTC".into(),
            catch_up_days: 3,
            send_attempts: 3,
            send_retry_base_ms: 2_000,
            retry_base_secs: 15 * 60,
            retry_max_secs: 2 * 60 * 60,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BudgetConfig {
    /// Most the model may cost per UTC day, in USD (unset: no limit).
    pub daily_usd: Option<f64>,
    /// Most per calendar month (UTC), in USD.
    pub monthly_usd: Option<f64>,
    /// Most the model may cost reading free-text replies per UTC day (default: a tenth of
    /// `daily_usd`), so replies can never eat the digests' budget.
    pub replies_usd: Option<f64>,
}

/// `[subscribe]`: people subscribe themselves by mailing "subscribe" to the digest address,
/// then answering the confirmation (double opt-in).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SubscribeConfig {
    pub open: bool,
    /// Only these domains may subscribe (empty: any).
    pub allowed_domains: Vec<String>,
    /// Confirmed requests wait for `paperboy subscribers approve EMAIL`.
    pub approve: bool,
    /// Topics of a reader who gave none.
    pub default_topics: String,
    /// Mails subscribing sends (confirmations, notes, welcomes) per address (its +tag removed),
    /// per domain and in all, per day: no mail-bombing through us.
    pub per_address_per_day: u32,
    pub per_domain_per_day: u32,
    pub per_day: u32,
    /// How long a confirmation stays valid.
    pub valid_hours: u32,
}

impl Default for SubscribeConfig {
    fn default() -> Self {
        SubscribeConfig {
            open: false,
            allowed_domains: Vec::new(),
            approve: false,
            default_topics: "New papers in the lab's categories.".into(),
            per_address_per_day: 3,
            per_domain_per_day: 10,
            per_day: 50,
            valid_hours: 48,
        }
    }
}

/// `[archive]`: static HTML pages of each reader's digests, one folder per reader under an
/// unguessable name, for any static web server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchiveConfig {
    /// Where the pages are written (relative paths: to the config file's directory).
    pub dir: PathBuf,
    /// Where `dir` is served, e.g. `https://lab.example.org/papers`; digests then link to their
    /// day page ("View in browser").
    pub base_url: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// Where alerts about failed or degraded runs go (unset: no alert mails, only logs).
    pub email: Option<String>,
    /// An incoming-webhook URL that gets every alert too, without the mail server: Slack,
    /// Matrix (hookshot), Zulip (Slack-compatible) and Mattermost take `format = "json"`
    /// (`{"text": …}`); ntfy takes `"text"` (the body as the message, the subject as `Title`).
    pub webhook: Option<String>,
    pub webhook_format: WebhookFormat,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Where `GET /metrics` is served; loopback unless you open it on purpose.
    pub listen: std::net::SocketAddr,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 9464)),
        }
    }
}

/// How an alert is posted to `[admin] webhook`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// `{"text": "subject\n\nbody"}` (Slack, Matrix hookshot, Zulip, Mattermost).
    #[default]
    Json,
    /// The body as plain text, the subject in a `Title` header (ntfy).
    Text,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    pub from: String,
    /// The address replies go to, with `+TOKEN` added per subscriber (default: the From address).
    /// Mail to it must reach the `[imap]` mailbox.
    pub reply_to: Option<String>,
    pub transport: Transport,
    pub outbox: PathBuf,
    pub smtp: SmtpConfig,
    /// Digests sent at once (over pooled SMTP connections).
    pub concurrency: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: String,
    pub password_env: String,
    /// A file holding the password instead (see `llm.api_key_file`).
    pub password_file: Option<PathBuf>,
    pub timeout_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            subscribers: "subscribers.toml".into(),
            prompts: "prompts".into(),
            arxiv: ArxivConfig::default(),
            biorxiv: None,
            medrxiv: None,
            llm: LlmConfig::default(),
            embeddings: EmbeddingsConfig::default(),
            store: StoreConfig::default(),
            mail: MailConfig::default(),
            imap: None,
            schedule: ScheduleConfig::default(),
            budget: BudgetConfig::default(),
            admin: AdminConfig::default(),
            archive: None,
            subscribe: SubscribeConfig::default(),
            metrics: None,
            base_dir: PathBuf::from("."),
            source: None,
            source_text: None,
            llm_configured: false,
            typed: std::sync::OnceLock::new(),
        }
    }
}

impl Default for ArxivConfig {
    fn default() -> Self {
        ArxivConfig {
            categories: vec!["cs.LG".into(), "cs.AI".into()],
            announce_types: vec!["new".into(), "cross".into()],
            rss_url: "https://rss.arxiv.org/rss".into(),
            api_url: "https://export.arxiv.org/api/query".into(),
            timeout_secs: 60,
            min_interval_ms: 3_000,
            retry_base_ms: 5_000,
            max_attempts: 5,
        }
    }
}

impl Default for LlmConfig {
    fn default() -> Self {
        LlmConfig {
            base_url: "https://api.openai.com/v1".into(),
            model: "gpt-4o-mini".into(),
            api_key_env: "OPENAI_API_KEY".into(),
            api_key_file: None,
            batch_size: 200,
            concurrency: 4,
            triage: true,
            triage_batch_size: 200,
            tldr: true,
            timeout_secs: 120,
            max_attempts: 3,
            retry_base_ms: 2_000,
            reask_attempts: 2,
            max_completion_tokens: None,
            context_tokens: None,
            prices: BTreeMap::new(),
        }
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            keep_days: None,
            path: "data/paperboy.db".into(),
        }
    }
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            from: "paperboy <paperboy@localhost>".into(),
            reply_to: None,
            transport: Transport::File,
            outbox: "emails/outbox".into(),
            smtp: SmtpConfig::default(),
            concurrency: 8,
        }
    }
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            host: "localhost".into(),
            port: 587,
            security: Security::Starttls,
            username: String::new(),
            password_env: "PAPERBOY_SMTP_PASSWORD".into(),
            password_file: None,
            timeout_secs: 30,
        }
    }
}

impl Config {
    /// The day's cap on reading replies with the model: `[budget] replies_usd`, or a tenth of
    /// `daily_usd`; `None` without either.
    pub fn replies_budget(&self) -> Option<crate::domain::Money> {
        self.budget
            .replies_usd
            .or(self.budget.daily_usd.map(|d| d / 10.0))
            .map(|usd| crate::domain::Money::from_micros((usd * 1_000_000.0).round() as i64))
    }

    /// Every configured category of every source: a subscriber's default.
    pub fn categories(&self) -> Vec<Category> {
        self.typed().categories.clone()
    }

    /// The arXiv categories read each announcement day.
    pub fn arxiv_categories(&self) -> Vec<Category> {
        self.typed().arxiv_categories.clone()
    }

    /// The configured preprint servers.
    pub fn preprints(&self) -> impl Iterator<Item = (crate::domain::Source, &PreprintConfig)> {
        [
            (crate::domain::Source::Biorxiv, self.biorxiv.as_ref()),
            (crate::domain::Source::Medrxiv, self.medrxiv.as_ref()),
        ]
        .into_iter()
        .filter_map(|(s, c)| c.map(|c| (s, c)))
    }

    pub fn announce_types(&self) -> Vec<AnnounceType> {
        self.typed().announce_types.clone()
    }

    /// `[mail] from` as a mailbox, or why it is not one.
    pub fn from_mailbox(&self) -> Result<lettre::message::Mailbox, String> {
        self.typed().from.clone()
    }

    /// When the daemon runs: `[schedule] cron` in `timezone` (checked when loading).
    pub fn run_schedule(&self) -> Result<schedule::Schedule, String> {
        self.typed().schedule.clone()
    }

    /// Where alerts go: `[admin] email` (checked when loading).
    pub fn admin_address(&self) -> Option<lettre::Address> {
        self.typed().admin.clone()
    }

    /// Resolves a configured path against the config file's directory.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }

    /// The lock file for one kind of work (`runs`, `inbox`, `subscribers`), beside the database:
    /// `data/paperboy.runs.lock`.
    pub fn lock_path(&self, kind: &str) -> PathBuf {
        self.resolve(&self.store.path)
            .with_extension(format!("{kind}.lock"))
    }

    /// The base reply address (`digest@lab.org`), without a `+TOKEN`.
    pub fn reply_address(&self) -> Result<lettre::Address, String> {
        self.typed().reply_address.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("paperboy.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn missing_file_means_defaults() {
        let c = Config::load(Path::new("/nonexistent/paperboy.toml"), false, []).unwrap();
        assert_eq!(c.llm.model, "gpt-4o-mini");
        assert_eq!(c.arxiv.categories, vec!["cs.LG", "cs.AI"]);
        assert_eq!(c.mail.transport, Transport::File);
        assert!(c.source.is_none());
        assert!(Config::load(Path::new("/nonexistent/paperboy.toml"), true, []).is_err());
    }

    #[test]
    fn file_then_environment() {
        let (dir, path) =
            write("[llm]\nmodel = \"gpt-4o\"\nbatch_size = 4\n[store]\npath = \"x.db\"\n");
        let env = vec![
            ("PAPERBOY__LLM__BATCH_SIZE".to_string(), "12".to_string()),
            ("PAPERBOY__MAIL__TRANSPORT".to_string(), "smtp".to_string()),
            ("UNRELATED".to_string(), "1".to_string()),
        ];
        let c = Config::load(&path, true, env).unwrap();
        assert_eq!(c.llm.model, "gpt-4o");
        assert_eq!(c.llm.batch_size, 12);
        assert_eq!(c.mail.transport, Transport::Smtp);
        assert_eq!(c.resolve(&c.store.path), dir.path().join("x.db"));
    }

    #[test]
    fn errors_name_the_file_line_and_key() {
        let (_d, path) = write("[llm]\nmodel = \"gpt-4o\"\nbatch_sise = 4\n");
        let err = Config::load(&path, true, []).unwrap_err().to_string();
        assert!(
            err.contains("paperboy.toml:3: key `llm.batch_sise`: unknown key `batch_sise`; did you mean `batch_size`?"),
            "{err}"
        );

        let (_d, path) = write("[arxiv]\ncategories = [\"cs.LG\", \"CS AI\"]\n");
        let err = Config::load(&path, true, []).unwrap_err().to_string();
        assert!(
            err.contains("arxiv.categories") && err.contains("CS AI"),
            "{err}"
        );

        let (_d, path) = write("[mail]\ntransport = \"pigeon\"\n");
        let err = Config::load(&path, true, []).unwrap_err().to_string();
        assert!(
            err.contains("pigeon") && err.contains("paperboy.toml:2:"),
            "{err}"
        );
    }

    #[test]
    fn preprint_subjects_are_checked_against_their_server() {
        let (_d, path) = write(
            "[arxiv]\ncategories = []\n[biorxiv]\ncategories = [\"neurosciense\", \"cell_biology\"]\n",
        );
        let err = Config::load(&path, true, []).unwrap_err().to_string();
        assert!(
            err.contains("paperboy.toml:4: key `biorxiv.categories`")
                && err.contains(
                    "`neurosciense` is not a bioRxiv subject; did you mean `neuroscience`"
                ),
            "{err}"
        );
        assert!(
            !err.contains("cell_biology"),
            "spaces as underscores: {err}"
        );
        // Preprint servers alone are a valid setup; nothing at all is not.
        let (_d, path) =
            write("[arxiv]\ncategories = []\n[medrxiv]\ncategories = [\"epidemiology\"]\n");
        let c = Config::load(&path, true, []).unwrap();
        assert!(c.arxiv_categories().is_empty());
        assert_eq!(c.categories()[0].as_str(), "medrxiv:epidemiology");
        let (_d, path) = write("[arxiv]\ncategories = []\n");
        assert!(Config::load(&path, true, []).is_err());
    }

    #[test]
    fn the_example_configuration_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("paperboy.toml.example");
        let c = Config::load(&path, true, []).unwrap();
        assert_eq!(c.mail.concurrency, 8);
        assert_eq!(c.schedule.retry_base_secs, 900);
    }

    #[test]
    fn every_problem_at_once_each_where_it_came_from() {
        let (_d, path) = write(
            "[arxiv]\ncategories = [\"cs.LG\"]\n[llm]\nmodle = \"x\"\nconcurrency = \"two\"\n[shedule]\ncron = \"x\"\n",
        );
        let env = vec![("PAPERBOY__LLM__BATCH_SIZE".to_string(), "abc".to_string())];
        let err = Config::load(&path, true, env).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("4 problems in the configuration:"),
            "{text}"
        );
        let has = |needle: &str| assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
        has("paperboy.toml:4: key `llm.modle`: unknown key `modle`; did you mean `model`?");
        has("paperboy.toml:5: key `llm.concurrency`: invalid type: string \"two\"");
        has("paperboy.toml:6: key `shedule`: unknown key `shedule`; did you mean `schedule`?");
        has("environment variable PAPERBOY__LLM__BATCH_SIZE: key `llm.batch_size`: invalid type: string \"abc\"");
        // The values are checked too, once the names and types are right.
        let (_d, path) = write(
            "[arxiv]\ncategories = [\"cs.LG\", \"astroph\"]\nrss_url = \"not a url\"\n[llm]\nconcurrency = 0\n[mail]\nfrom = \"nobody\"\n",
        );
        let text = Config::load(&path, true, []).unwrap_err().to_string();
        let has = |needle: &str| assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
        has("paperboy.toml:2: key `arxiv.categories`: `astroph` is not an arXiv category; did you mean `astro-ph`");
        has("paperboy.toml:3: key `arxiv.rss_url`: `not a url` is not a web address");
        has("paperboy.toml:5: key `llm.concurrency`: must be at least 1");
        has("paperboy.toml:7: key `mail.from`:");
    }

    #[test]
    fn one_round_finds_names_types_values_the_zone_and_the_cron_together() {
        // Eight mistakes of every kind: all reported by the first load.
        let (_d, path) = write(
            "[arxiv]\ncategories = [\"cs.LG\", \"astroph\"]\nrss_url = \"not a url\"\n[llm]\nmodle = \"x\"\nconcurrency = \"two\"\n[mail]\nfrom = \"nobody\"\n[schedule]\ncron = \"every day\"\ntimezone = \"Mars/Olympus\"\n[admin]\nwebhook = \"ftp://x\"\n",
        );
        let text = Config::load(&path, true, []).unwrap_err().to_string();
        assert!(
            text.starts_with("8 problems in the configuration:"),
            "{text}"
        );
        let has = |needle: &str| assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
        has("key `llm.modle`: unknown key `modle`; did you mean `model`?");
        has("key `llm.concurrency`: invalid type: string \"two\"");
        has("key `arxiv.categories`: `astroph` is not an arXiv category");
        has("key `arxiv.rss_url`: `not a url` is not a web address");
        has("key `mail.from`:");
        has("paperboy.toml:10: key `schedule.cron`: `every day` is not a cron expression");
        has("paperboy.toml:11: key `schedule.timezone`: `Mars/Olympus` is not an IANA time zone");
        has("key `admin.webhook`: `ftp://x` is not a web address");
    }
}
