use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, Subcommand};

use super::{open_store, Failure, EXIT_OK};
use crate::config::Config;
use crate::domain::Subscriber;
use crate::domain::SubscriberEmail;
use crate::store::audit::Actor;
use crate::subscribers::admin::{AdminError, Applied, Change, Subscribers};
use crate::subscribers::edit::{EditError, FieldValue};

mod views;

use views::{history, list, show};

/// Manage subscribers: every change edits subscribers.toml in place (comments and formatting
/// survive), is checked before it is written, and is recorded in the audit trail.
#[derive(Debug, Subcommand)]
#[command(
    after_help = "Examples:\n  paperboy subscribers list\n  paperboy subscribers add ada@lab.org --name Ada --topics \"sparse attention\" --author \"Yann LeCun\"\n  paperboy subscribers set ada@lab.org min_relevance 8\n  paperboy subscribers pause ada@lab.org\n  paperboy subscribers history ada@lab.org"
)]
pub enum SubscribersCmd {
    /// List subscribers as a table.
    #[command(
        after_help = "Examples:\n  paperboy subscribers list\n  paperboy subscribers list --json | jq '.[].email'"
    )]
    List {
        #[arg(long)]
        json: bool,
    },
    /// Everything about one subscriber: topics, authors, keywords, thresholds, paused or not,
    /// last digest sent, spend this month.
    #[command(
        after_help = "Examples:\n  paperboy subscribers show ada@lab.org\n  paperboy subscribers show ada@lab.org --sent   every paper sent to Ada, by day"
    )]
    Show {
        #[arg(value_parser = parse_email)]
        email: SubscriberEmail,
        /// The papers sent to them, by day, instead.
        #[arg(long)]
        sent: bool,
        #[arg(long)]
        json: bool,
    },
    /// Add a subscriber.
    #[command(
        after_help = "Examples:\n  paperboy subscribers add ada@lab.org --name Ada --topics \"Mixture of experts; model compression\"\n  paperboy subscribers add grace@lab.org --name Grace --topics-file topics/foundations.md \\\n      --author \"Yann LeCun\" --keyword quantization --keyword pruning --min-relevance 8"
    )]
    Add(AddArgs),
    /// Remove a subscriber (their history stays in the database).
    #[command(after_help = "Example:\n  paperboy subscribers remove ada@lab.org")]
    Remove {
        #[arg(value_parser = parse_email)]
        email: SubscriberEmail,
        /// Leave the reader's web archive folder published (by default it is deleted, so the
        /// link in their forwarded digests stops working).
        #[arg(long)]
        keep_archive: bool,
    },
    /// Stop sending digests to a subscriber until resumed.
    #[command(after_help = "Example:\n  paperboy subscribers pause ada@lab.org")]
    Pause {
        #[arg(value_parser = parse_email)]
        email: SubscriberEmail,
    },
    /// New reply and unsubscribe addresses and a new web archive address for a subscriber: the
    /// old ones (in every digest and forward they have sent) stop working at once.
    #[command(after_help = "Example:\n  paperboy subscribers rotate-token ada@lab.org")]
    RotateToken {
        #[arg(value_parser = parse_email)]
        email: SubscriberEmail,
    },
    /// Interests from the reader's own library (a BibTeX/BibLaTeX export): co-authors in two
    /// entries or more become followed authors, recurring keywords and title terms keywords, the
    /// topics gain a line, and the library's arXiv papers are never sent as new. Shows the
    /// change; applies it with --yes.
    #[command(after_help = "Examples:
  paperboy subscribers import-library ada@lab.org ~/zotero-export.bib
  paperboy subscribers import-library ada@lab.org ~/zotero-export.bib --yes")]
    ImportLibrary {
        #[arg(value_parser = parse_email)]
        email: SubscriberEmail,
        file: PathBuf,
        /// Apply the change (without it, only show it).
        #[arg(long)]
        yes: bool,
    },
    /// Self-subscriptions confirmed by mail that wait for approval (`[subscribe] approve`).
    #[command(after_help = "Example:\n  paperboy subscribers pending")]
    Pending {
        #[arg(long)]
        json: bool,
    },
    /// Approve a confirmed self-subscription: the reader is added and welcomed.
    #[command(after_help = "Example:\n  paperboy subscribers approve nina@lab.org")]
    Approve {
        #[arg(value_parser = parse_email)]
        email: SubscriberEmail,
    },
    /// Send digests to a paused subscriber again.
    #[command(after_help = "Example:\n  paperboy subscribers resume ada@lab.org")]
    Resume {
        #[arg(value_parser = parse_email)]
        email: SubscriberEmail,
    },
    /// Change one key of a subscriber's entry. Lists are comma-separated (or a TOML array);
    /// an empty value removes the key (back to its default).
    #[command(after_help = set_help())]
    Set {
        #[arg(value_parser = parse_email)]
        email: SubscriberEmail,
        key: String,
        value: String,
    },
    /// Open a subscriber's entry in $VISUAL or $EDITOR; it is checked before it is saved.
    #[command(after_help = "Example:\n  EDITOR=nano paperboy subscribers edit ada@lab.org")]
    Edit {
        #[arg(value_parser = parse_email)]
        email: SubscriberEmail,
    },
    /// The changes made to a subscriber: when, by whom (cli or reply), before and after.
    #[command(after_help = "Example:\n  paperboy subscribers history ada@lab.org")]
    History {
        #[arg(value_parser = parse_email)]
        email: SubscriberEmail,
        #[arg(long)]
        json: bool,
    },
}

/// `set --help`: the keys from the one table of settable keys, then examples.
fn set_help() -> String {
    let keys: Vec<&str> = crate::subscribers::edit::SETTABLE
        .iter()
        .map(|(k, _)| *k)
        .collect();
    let mut lines = vec![String::from("Keys:")];
    for key in keys {
        let last = lines.last_mut().expect("one line at least");
        if last.len() + key.len() + 2 > 90 {
            lines.push(String::new());
        }
        let last = lines.last_mut().expect("one line at least");
        if !last.is_empty() {
            last.push(' ');
        }
        last.push_str(key);
        last.push(',');
    }
    let mut help = lines.join("\n");
    help.pop();
    help.push_str(".\n\nExamples:\n  paperboy subscribers set ada@lab.org min_relevance 8\n  paperboy subscribers set ada@lab.org keywords \"moe, sparse attention\"\n  paperboy subscribers set ada@lab.org frequency weekly\n  paperboy subscribers set ada@lab.org max_papers \"\"");
    help
}

#[derive(Debug, Args)]
pub struct AddArgs {
    #[arg(value_parser = parse_email)]
    pub email: SubscriberEmail,
    /// The subscriber's name, as the digest greets them.
    #[arg(long)]
    pub name: String,
    /// Free-text topics.
    #[arg(long, conflicts_with = "topics_file")]
    pub topics: Option<String>,
    /// A topics file under the prompts directory (e.g. topics/foundations.md).
    #[arg(long, value_name = "FILE")]
    pub topics_file: Option<PathBuf>,
    /// An author to follow (repeatable).
    #[arg(long = "author", value_name = "NAME")]
    pub authors: Vec<String>,
    /// A keyword (repeatable).
    #[arg(long = "keyword", value_name = "WORD")]
    pub keywords: Vec<String>,
    /// A category among the configured ones (repeatable; default: all).
    #[arg(long = "category", value_name = "CAT")]
    pub categories: Vec<String>,
    #[arg(long, value_name = "1-10")]
    pub min_relevance: Option<i64>,
    #[arg(long, value_name = "1-10")]
    pub min_novelty: Option<i64>,
    #[arg(long, value_name = "N")]
    pub max_papers: Option<i64>,
}

pub fn parse_email(s: &str) -> Result<SubscriberEmail, String> {
    SubscriberEmail::parse(s).map_err(|e| e.to_string())
}

pub async fn run(config: Config, cmd: SubscribersCmd) -> Result<u8, Failure> {
    let subs = Subscribers::new(&config);
    match cmd {
        SubscribersCmd::List { json } => list(&config, &subs, json),
        SubscribersCmd::Show {
            email,
            sent: true,
            json,
        } => super::deliveries::print_sent(&config, &email, json),
        SubscribersCmd::Show { email, json, .. } => show(&config, &subs, &email, json),
        SubscribersCmd::History { email, json } => history(&config, &email, json),
        SubscribersCmd::Add(a) => {
            let fields = add_fields(
                &subs,
                a.name,
                a.topics,
                a.topics_file,
                a.authors,
                a.keywords,
                a.categories,
                a.min_relevance,
                a.min_novelty,
                a.max_papers,
            )?;
            change(&config, &subs, &a.email, Change::Add(fields))
        }
        SubscribersCmd::Remove {
            email,
            keep_archive,
        } => {
            let code = change(&config, &subs, &email, Change::Remove)?;
            if let Some(archive) = &config.archive {
                let dir = config.resolve(&archive.dir);
                let store = open_store(&config)?;
                if keep_archive {
                    let key =
                        store.with(|c| crate::store::archive::forget_key(c, email.as_str()))?;
                    if let Some(key) = key {
                        println!(
                            "their web archive stays published in {} (delete that folder to withdraw it)",
                            dir.join(key).display()
                        );
                    }
                } else {
                    let pages = crate::archive::withdraw(&store, &dir, email.as_str())?;
                    if pages > 0 {
                        println!("removed their web archive ({pages} pages)");
                    }
                }
            }
            Ok(code)
        }
        SubscribersCmd::Pause { email } => change(&config, &subs, &email, Change::Pause),
        SubscribersCmd::Resume { email } => change(&config, &subs, &email, Change::Resume),
        SubscribersCmd::Pending { json } => super::join::pending(&config, json),
        SubscribersCmd::ImportLibrary { email, file, yes } => {
            super::library::import(config, &email, &file, yes).await
        }
        SubscribersCmd::Approve { email } => super::join::approve(config, &email).await,
        SubscribersCmd::RotateToken { email } => {
            if !subs
                .load()
                .is_ok_and(|all| all.iter().any(|s| s.email == email))
            {
                return Err(Failure::usage(anyhow::anyhow!(
                    "{email} is not a subscriber"
                )));
            }
            let store = open_store(&config)?;
            store.rotate_reply_tokens(&email)?;
            println!("{email}: new reply and unsubscribe addresses; the old ones no longer work");
            if let Some(archive) = &config.archive {
                let dir = config.resolve(&archive.dir);
                if let Some(key) = crate::archive::rekey(&store, &dir, email.as_str())? {
                    let at = match &archive.base_url {
                        Some(b) => format!("{}/{key}/", b.trim_end_matches('/')),
                        None => dir.join(&key).display().to_string(),
                    };
                    println!(
                        "{email}: the web archive moved to {at}; the old address no longer works"
                    );
                }
            }
            Ok(EXIT_OK)
        }
        SubscribersCmd::Set { email, key, value } => {
            let value =
                FieldValue::parse(&key, &value).map_err(|e| Failure::usage(anyhow::anyhow!(e)))?;
            change(&config, &subs, &email, Change::Set { key, value })
        }
        SubscribersCmd::Edit { email } => edit(&config, &subs, &email),
    }
}

#[allow(clippy::too_many_arguments)]
fn add_fields(
    subs: &Subscribers,
    name: String,
    topics: Option<String>,
    topics_file: Option<PathBuf>,
    authors: Vec<String>,
    keywords: Vec<String>,
    categories: Vec<String>,
    min_relevance: Option<i64>,
    min_novelty: Option<i64>,
    max_papers: Option<i64>,
) -> Result<Vec<(&'static str, FieldValue)>, Failure> {
    let mut fields = vec![("name", FieldValue::Text(name))];
    if let Some(t) = topics {
        fields.push(("topics", FieldValue::Text(t)));
    }
    if let Some(f) = topics_file {
        fields.push((
            "topics_file",
            FieldValue::Text(relative_to_prompts(&subs.prompts, &f)?),
        ));
    }
    let list = |v: Vec<String>| (!v.is_empty()).then_some(FieldValue::List(v));
    for (key, value) in [
        ("authors", list(authors)),
        ("keywords", list(keywords)),
        ("categories", list(categories)),
    ] {
        if let Some(v) = value {
            fields.push((key, v));
        }
    }
    for (key, value) in [
        ("min_relevance", min_relevance),
        ("min_novelty", min_novelty),
        ("max_papers", max_papers),
    ] {
        if let Some(v) = value {
            fields.push((key, FieldValue::Int(v)));
        }
    }
    Ok(fields)
}

/// `topics_file` is stored relative to the prompts directory.
fn relative_to_prompts(prompts: &Path, file: &Path) -> Result<String, Failure> {
    let under = prompts.join(file);
    if file.is_relative() && under.is_file() {
        return Ok(file.display().to_string());
    }
    let (Ok(abs), Ok(base)) = (std::fs::canonicalize(file), std::fs::canonicalize(prompts)) else {
        return Err(Failure::usage(anyhow::anyhow!(
            "cannot find the topics file {} (give a path under {})",
            file.display(),
            prompts.display()
        )));
    };
    abs.strip_prefix(&base).map(|p| p.display().to_string()).map_err(|_| {
        Failure::usage(anyhow::anyhow!(
            "{} is not under the prompts directory {}; move it there (e.g. {}/topics/) and try again",
            file.display(),
            prompts.display(),
            prompts.display()
        ))
    })
}

fn change(
    config: &Config,
    subs: &Subscribers,
    email: &SubscriberEmail,
    change: Change,
) -> Result<u8, Failure> {
    let store = open_store(config)?;
    let applied = subs
        .apply(&store, email, change, &Actor::cli())
        .map_err(admin_failure)?;
    report(email, &applied);
    Ok(EXIT_OK)
}

fn report(email: &SubscriberEmail, a: &Applied) {
    let mut out = std::io::stdout().lock();
    if !a.changed {
        let _ = writeln!(out, "{email}: nothing changed");
        return;
    }
    match (&a.before, &a.after) {
        (None, Some(_)) => {
            let _ = writeln!(out, "added {email}");
        }
        (Some(_), None) => {
            let _ = writeln!(out, "removed {email}");
        }
        _ => {
            let _ = writeln!(out, "{email}: {}", a.action);
        }
    }
    let before = a.before.as_ref().map(Subscriber::to_json);
    let after = a.after.as_ref().map(Subscriber::to_json);
    for line in diff(before.as_ref(), after.as_ref()) {
        let _ = writeln!(out, "  {line}");
    }
}

/// "key: before → after" for every key that differs.
pub fn diff(before: Option<&serde_json::Value>, after: Option<&serde_json::Value>) -> Vec<String> {
    let empty = serde_json::Map::new();
    let b = before.and_then(|v| v.as_object()).unwrap_or(&empty);
    let a = after.and_then(|v| v.as_object()).unwrap_or(&empty);
    let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
    keys.sort();
    keys.dedup();
    let show = |v: Option<&serde_json::Value>| match v {
        None | Some(serde_json::Value::Null) => "(default)".to_string(),
        Some(serde_json::Value::String(s)) => format!("{:?}", shorten(s, 60)),
        Some(other) => other.to_string(),
    };
    let unset = |v: Option<&serde_json::Value>| v.is_none_or(serde_json::Value::is_null);
    keys.into_iter()
        .filter(|k| b.get(*k) != a.get(*k) && !(unset(b.get(*k)) && unset(a.get(*k))))
        .map(|k| match (before, after) {
            // A new or removed entry: just its values.
            (None, _) => format!("{k}: {}", show(a.get(k))),
            (_, None) => format!("{k}: {}", show(b.get(k))),
            _ => format!("{k}: {} → {}", show(b.get(k)), show(a.get(k))),
        })
        .collect()
}

/// `s` on one line, cut after `keep` characters with "…".
fn shorten(s: &str, keep: usize) -> String {
    let one_line = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > keep {
        format!("{}…", one_line.chars().take(keep).collect::<String>())
    } else {
        one_line
    }
}

fn admin_failure(e: AdminError) -> Failure {
    match e {
        AdminError::Edit(
            EditError::Conflict { .. } | EditError::Write { .. } | EditError::Read { .. },
        )
        | AdminError::Store(_) => Failure::from(anyhow::Error::new(e)),
        other => Failure::usage(anyhow::anyhow!(other.to_string().trim_end().to_string())),
    }
}

fn load(subs: &Subscribers) -> Result<Vec<Subscriber>, Failure> {
    subs.load()
        .map_err(|e| Failure::usage(anyhow::anyhow!(e.to_string().trim_end().to_string())))
}

fn edit(config: &Config, subs: &Subscribers, email: &SubscriberEmail) -> Result<u8, Failure> {
    let file = crate::subscribers::edit::SubscribersFile::open(&subs.path)
        .map_err(|e| admin_failure(e.into()))?;
    let original = file
        .entry_text(email)
        .map_err(|e| admin_failure(e.into()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix("paperboy-subscriber-")
        .suffix(".toml")
        .tempfile()
        .context("temp file")?;
    tmp.write_all(original.as_bytes()).context("temp file")?;
    let editor = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .unwrap_or_else(|_| "vi".into());
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(tmp.path())
        .status()
        .with_context(|| format!("cannot start the editor `{editor}`"))?;
    if !status.success() {
        return Err(Failure::from(anyhow::anyhow!(
            "the editor `{editor}` exited with {status}; nothing was changed"
        )));
    }
    let edited = std::fs::read_to_string(tmp.path()).context("reading the edited entry")?;
    if edited == original {
        println!("{email}: nothing changed");
        return Ok(EXIT_OK);
    }
    let store = open_store(config)?;
    match subs.apply(
        &store,
        email,
        Change::Replace {
            shown: original,
            new: edited,
        },
        &Actor::cli(),
    ) {
        Ok(applied) => {
            report(email, &applied);
            Ok(EXIT_OK)
        }
        Err(e) => {
            // Keep the edit, so the work is not lost.
            let kept = tmp
                .into_temp_path()
                .keep()
                .context("keeping the edited entry")?;
            let f = admin_failure(e);
            Err(Failure {
                code: f.code,
                error: f.error.context(format!(
                    "your edit is kept in {}; fix it and paste it back with `paperboy subscribers edit {email}`",
                    kept.display()
                )),
            })
        }
    }
}
