//! `paperboy archive`: the web archive of every reader's digests.

use std::io::Write as _;

use clap::Subcommand;

use super::{open_store, Failure, EXIT_OK};
use crate::config::Config;
use crate::subscribers;

#[derive(Debug, Subcommand)]
pub enum ArchiveCmd {
    /// Writes every reader's archive again from the store: day pages, month overviews, indexes.
    #[command(
        after_help = "Needs an [archive] section in paperboy.toml:\n  [archive]\n  dir = \"archive\"                              # served by any static web server\n  base_url = \"https://lab.example.org/papers\"  # optional: digests link to their page\n\nExample:\n  paperboy archive rebuild"
    )]
    Rebuild,
}

pub async fn run(config: Config, cmd: ArchiveCmd) -> Result<u8, Failure> {
    match cmd {
        ArchiveCmd::Rebuild => rebuild(config).await,
    }
}

async fn rebuild(config: Config) -> Result<u8, Failure> {
    let Some(archive) = config.archive.clone() else {
        return Err(Failure::usage(anyhow::anyhow!(
            "no [archive] section in {}: add one with `dir = \"archive\"` (and optionally base_url) to have a web archive",
            config
                .source
                .as_deref()
                .map_or("paperboy.toml".to_string(), |p| p.display().to_string())
        )));
    };
    let subs = subscribers::load(
        &config.resolve(&config.subscribers),
        &config.resolve(&config.prompts),
        &config.categories(),
    )
    .map_err(|e| Failure::usage(anyhow::anyhow!("{}", e.to_string().trim_end())))?;
    let store = open_store(&config)?;
    let stored = store.archived_subscribers().await?;
    let dir = config.resolve(&archive.dir);
    let mut out = std::io::stdout().lock();
    let (mut days, mut readers) = (0, 0);
    for sub in subs
        .iter()
        .filter(|s| stored.contains(&s.email.to_string()))
    {
        let reply = store.reply_addresses(&config, &sub.email).await?;
        let w = crate::archive::update(&store, &dir, archive.base_url.as_deref(), sub, None, reply)
            .await?;
        let _ = writeln!(
            out,
            "{}: {} day pages, {} months",
            sub.email, w.days, w.months
        );
        days += w.days;
        readers += 1;
    }
    let gone = stored
        .iter()
        .filter(|e| !subs.iter().any(|s| &s.email.to_string() == *e))
        .count();
    let _ = writeln!(
        out,
        "Wrote {days} day pages for {readers} readers under {}.",
        dir.display()
    );
    if gone > 0 {
        let _ = writeln!(
            out,
            "{gone} readers with stored digests are no longer in the subscribers file; their folders were left as they are."
        );
    }
    Ok(EXIT_OK)
}
