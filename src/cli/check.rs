use std::io::Write as _;

use anyhow::Context as _;
use clap::Args;

use super::output;
use super::{Failure, EXIT_FAILED, EXIT_OK};
use crate::config::{Config, ImapConfig};
use crate::llm::LlmClient;
use crate::scoring::budget::Budget;
use crate::scoring::meter::{CallKind, Meter, OneCall};
use crate::scoring::prices::PriceTable;
use crate::scoring::prompt::Prompts;
use crate::sources::arxiv::ArxivClient;
use crate::store::spend::Stage;
use crate::store::Store;
use crate::subscribers::admin::Subscribers;

/// Check the setup: the config, subscribers and prompts are valid, and every configured service
/// answers (SMTP login, the model endpoint with a tiny request, the arXiv feed, each preprint server). Each is reported
/// as ok or with what failed and how to fix it; exits 2 when a file is wrong (configuration,
/// subscribers, prompts, the store's schema), 1 when a service failed.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  paperboy check\n  paperboy check --offline     only the local files\n  paperboy check --json"
)]
pub struct CheckArgs {
    /// Check only the files, not the network services.
    #[arg(long)]
    pub offline: bool,
    #[arg(long)]
    pub json: bool,
}

fn item(what: &'static str, r: Result<String, String>) -> Item {
    match r {
        Ok(detail) => Item {
            what,
            ok: Some(true),
            detail,
        },
        Err(detail) => Item {
            what,
            ok: Some(false),
            detail,
        },
    }
}

struct Item {
    what: &'static str,
    ok: Option<bool>, // None: skipped
    detail: String,
}

pub async fn run(config: Config, args: CheckArgs) -> Result<u8, Failure> {
    let (mut items, store) = local_checks(&config);
    // The model check records its spend: with the network checks, a store that does not exist
    // yet is created now (at this paperboy's schema; an older one is never migrated here).
    let path = config.resolve(&config.store.path);
    let store = if !args.offline && !path.exists() && store.is_ok() {
        Store::open(&path)
    } else {
        store
    };
    // A file that is wrong (the subscribers, a stale prompt, the store's schema) is the admin's
    // to fix before anything runs: exit 2, as startup would. A service that does not answer: 1.
    let files_failed = items.iter().any(|i| i.ok == Some(false));
    if !args.offline {
        items.extend(service_checks(&config, &store).await);
    }
    let failed = items.iter().any(|i| i.ok == Some(false));
    if args.json {
        print_json(&items)?;
    } else {
        print_items(&items);
    }
    Ok(if files_failed {
        super::EXIT_USAGE
    } else if failed {
        EXIT_FAILED
    } else {
        EXIT_OK
    })
}

/// The local checks: the config, the subscribers, passwords in cleartext, the prompts and the
/// database. The store is handed back, opened or not: the model check records its spend there.
fn local_checks(config: &Config) -> (Vec<Item>, anyhow::Result<Store>) {
    let mut items = Vec::new();
    items.push(item(
        "config",
        Ok(match &config.source {
            Some(p) => format!("{} is valid", p.display()),
            None => "no paperboy.toml: built-in defaults".into(),
        }),
    ));
    items.push(item(
        "subscribers",
        Subscribers::new(config)
            .load()
            .map(|s| {
                format!(
                    "{} subscribers ({} paused)",
                    s.len(),
                    s.iter().filter(|s| s.paused).count()
                )
            })
            .map_err(|e| e.to_string().trim_end().to_string()),
    ));
    items.push(item(
        "model's key",
        config.model_key().map(|key| match key {
            Some(_) => match &config.llm.api_key_file {
                Some(f) => format!("read from {}", f.display()),
                None => format!("found in ${}", config.llm.api_key_env),
            },
            None => "no [llm] section: the keyword scorer runs".into(),
        }),
    ));
    let unreadable = config.unreadable_secrets();
    let loose = config.loose_secret_files();
    items.push(item(
        "secret files",
        if !unreadable.is_empty() {
            Err(unreadable.join("; "))
        } else if loose.is_empty() {
            Ok("every secret file named is readable".into())
        } else {
            Ok(format!("readable, but warning: {}", loose.join("; ")))
        },
    ));
    let cleartext = config.cleartext_passwords();
    // Replies read without the receiving server's word on the sender trust a From: header.
    let unproven = if config
        .imap
        .as_ref()
        .is_some_and(|i| i.authserv_id.is_none())
    {
        "; warning: [imap] has no authserv_id, so a reply is trusted on its From: header alone (a forwarded digest or a forged sender can steer a reader): set it to the first word of the Authentication-Results lines your receiving server writes (README, \"Proof of the sender\")"
    } else {
        ""
    };
    items.push(item(
        "security",
        if cleartext.is_empty() {
            Ok(format!(
                "no password crosses the network unencrypted{unproven}"
            ))
        } else {
            Err(cleartext.join("; "))
        },
    ));
    let prompts = config.resolve(&config.prompts);
    items.push(item(
        "prompts",
        crate::scoring::prompt::check_dir(&prompts)
            .and_then(|overrides| Ok((overrides, Prompts::load(&prompts)?)))
            .map(|(overrides, p)| {
                let built_in: Vec<String> = crate::scoring::prompt::CONTRACTS
                    .iter()
                    .map(|c| format!("{} {}", c.name, c.version))
                    .collect();
                format!(
                    "answer formats {}; {}; scoring prompt version {}",
                    built_in.join(", "),
                    if overrides.is_empty() {
                        "all built in".to_string()
                    } else {
                        format!(
                            "overridden in {}: {}",
                            prompts.display(),
                            overrides.join(", ")
                        )
                    },
                    p.version()
                )
            })
            .map_err(|e| format!("{e:#}")),
    ));
    // Checked as it is: `check` never creates or migrates the store.
    let path = config.resolve(&config.store.path);
    let exists = path.exists();
    let store = Store::open_existing(&path);
    items.push(item(
        "database",
        store
            .as_ref()
            .map(|_| {
                if exists {
                    format!(
                        "{} opens, schema {} (this paperboy's)",
                        path.display(),
                        crate::store::schema::SCHEMA_VERSION
                    )
                } else {
                    format!("none yet at {}: the first run creates it", path.display())
                }
            })
            .map_err(|e| format!("{e:#}")),
    ));
    (items, store)
}

/// The network checks, one request each: SMTP, IMAP, the model, the arXiv feed and each
/// preprint server.
async fn service_checks(config: &Config, store: &anyhow::Result<Store>) -> Vec<Item> {
    let mut items = vec![item(
        "mail",
        crate::mail::transport::from_config(config).check().await,
    )];
    items.push(check_inbox(config).await);
    items.push(check_model(config, store).await);
    let from = config
        .from_mailbox()
        .unwrap_or_else(|_| "paperboy <paperboy@localhost>".parse().expect("valid"));
    items.push(check_arxiv(config, from.email.as_ref()).await);
    items.extend(check_preprints(config, from.email.as_ref()).await);
    items
}

/// The inbox: skipped without `[imap]`, else a login and a look at the mailbox.
async fn check_inbox(config: &Config) -> Item {
    let Some(imap) = &config.imap else {
        return Item {
            what: "inbox",
            ok: None,
            detail: "no [imap] configured: replies are not read".into(),
        };
    };
    let r = match config.imap_password() {
        None => Err(format!(
            "the IMAP password is not set: put it in ${}",
            imap.password_env
        )),
        Some(p) => open_mailbox(imap, secrecy::ExposeSecret::expose_secret(&p)).await,
    };
    item("inbox", r)
}

/// Logs in to the IMAP server, opens the mailbox (saying how many messages it has) and logs out.
async fn open_mailbox(imap: &ImapConfig, password: &str) -> Result<String, String> {
    match crate::mail::imap::connect(imap, password).await {
        Ok(mut session) => {
            let r = session
                .select(&imap.mailbox)
                .await
                .map(|m| {
                    format!(
                        "{}@{}:{} logged in, {} has {} messages",
                        imap.username, imap.host, imap.port, imap.mailbox, m.exists
                    )
                })
                .map_err(|e| {
                    format!(
                        "logged in, but the server has no mailbox `{}` (it said: {}); set [imap] mailbox to one that exists, usually INBOX",
                        imap.mailbox,
                        crate::mail::imap::server_said(&e)
                    )
                });
            let _ = session.logout().await;
            r
        }
        Err(e) => Err(format!("{e:#}")),
    }
}

/// The model: skipped without an API key, else one tiny metered request.
async fn check_model(config: &Config, store: &anyhow::Result<Store>) -> Item {
    let Ok(Some(key)) = config.model_key() else {
        return Item {
            what: "model",
            ok: None,
            detail: "no key (see `model's key` above): not asked".into(),
        };
    };
    let r = match LlmClient::new(&config.llm, &key) {
        Ok(client) => ping_model(config, client, store).await,
        Err(e) => Err(format!("{e:#}")),
    };
    item("model", r)
}

/// Asks the model for (at most) 16 tokens through the meter, so the budget applies and the call
/// is recorded as spend; not asked when the store cannot be opened.
async fn ping_model(
    config: &Config,
    client: LlmClient,
    store: &anyhow::Result<Store>,
) -> Result<String, String> {
    let meter = Meter::new(
        client,
        Budget::new(&config.budget),
        PriceTable::new(&config.llm.prices),
    );
    let call = OneCall {
        stage: Stage::Check,
        kind: CallKind::Ping,
        subscriber: None,
        system: "",
        user: "",
        worst_completion: 16,
    };
    match store.as_ref() {
        Ok(store) => meter
            .complete_recorded(store, crate::support::clock::now_utc(), call)
            .await
            .map(|_| format!("{} at {} answered", config.llm.model, config.llm.base_url))
            .map_err(|e| e.to_string()),
        Err(e) => Err(format!(
            "not asked: the store, which records its spend, cannot be opened ({e:#})"
        )),
    }
}

/// The arXiv feed of the configured categories (nothing to read without any).
async fn check_arxiv(config: &Config, contact: &str) -> Item {
    let r = match ArxivClient::new(&config.arxiv, contact) {
        _ if config.arxiv_categories().is_empty() => Ok("no [arxiv] categories: not read".into()),
        Ok(client) => match client.latest(&config.arxiv_categories()).await {
            Ok(a) if a.papers.is_empty() => Ok(format!(
                "{} answers (no announcement on {})",
                client.rss_feed_url(&config.arxiv_categories()),
                a.day
            )),
            Ok(a) => Ok(format!(
                "{} answers: {} papers on {}",
                client.rss_feed_url(&config.arxiv_categories()),
                a.papers.len(),
                a.day
            )),
            Err(e) => Err(format!("{e}; check [arxiv] rss_url and the network")),
        },
        Err(e) => Err(format!("{e:#}")),
    };
    item("arxiv", r)
}

/// Each preprint server: its first subject, yesterday (one request; nothing stored).
async fn check_preprints(config: &Config, contact: &str) -> Vec<Item> {
    let mut items = Vec::new();
    let Ok(client) = crate::sources::preprints::PreprintClient::new(contact) else {
        return items;
    };
    let yesterday = crate::support::clock::now_utc().date_naive() - chrono::Duration::days(1);
    for (source, pre) in config.preprints() {
        let Some(cat) = pre
            .categories
            .first()
            .and_then(|c| crate::domain::Category::subject(source, c).ok())
        else {
            continue;
        };
        let r = match client.read(pre, &cat, yesterday, yesterday).await {
            Ok(w) => Ok(format!(
                "{} answers: {} {} papers on {yesterday}",
                pre.api_url,
                w.papers.len(),
                cat.name()
            )),
            Err(e) => Err(format!(
                "{e}; check [{}] api_url and the network",
                source.as_str()
            )),
        };
        items.push(item(source.as_str(), r));
    }
    items
}

/// The checks as a JSON array of {check, status, detail}.
fn print_json(items: &[Item]) -> Result<(), Failure> {
    let v: Vec<serde_json::Value> = items
        .iter()
        .map(|i| serde_json::json!({"check": i.what, "status": match i.ok { Some(true) => "ok", Some(false) => "failed", None => "skipped" }, "detail": i.detail}))
        .collect();
    println!("{}", serde_json::to_string_pretty(&v).context("json")?);
    Ok(())
}

/// The checks as aligned lines: status, what, and the detail (continued lines indented).
fn print_items(items: &[Item]) {
    let mut out = std::io::stdout().lock();
    for i in items {
        let status = match i.ok {
            Some(true) => output::status("ok"),
            Some(false) => output::status("failed"),
            None => "skipped".to_string(),
        };
        let pad = " ".repeat(7usize.saturating_sub(match i.ok {
            Some(true) => 2,
            Some(false) => 6,
            None => 7,
        }));
        let _ = writeln!(
            out,
            "{status}{pad}  {:<12} {}",
            i.what,
            i.detail.replace('\n', "\n                       ")
        );
    }
}
