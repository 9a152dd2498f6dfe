//! The prompts the binary carries, and the overrides under `prompts/`.

use clap::Subcommand;

use super::{Failure, EXIT_OK};
use crate::config::Config;
use crate::scoring::prompt::{load_one, CONTRACTS};

/// The prompts paperboy carries. A file of the same name under the prompts directory overrides
/// one, as long as its first line declares the answer format this paperboy reads.
#[derive(Debug, Subcommand)]
pub enum PromptsCmd {
    /// Each prompt: its answer format, and whether a file overrides it (and is current).
    #[command(after_help = "Example:\n  paperboy prompts list")]
    List,
    /// A built-in prompt as a file, header line included: the start of an override.
    #[command(
        after_help = "Examples:\n  paperboy prompts show instructions.md\n  paperboy prompts show instructions.md > /etc/paperboy/prompts/instructions.md   # then edit it"
    )]
    Show {
        /// instructions.md, triage.md, tldr.md or reply.md.
        file: String,
    },
}

pub fn run(config: Config, cmd: PromptsCmd) -> Result<u8, Failure> {
    let dir = config.resolve(&config.prompts);
    match cmd {
        PromptsCmd::Show { file } => {
            let Some(c) = CONTRACTS.iter().find(|c| c.file == file) else {
                let names: Vec<&str> = CONTRACTS.iter().map(|c| c.file).collect();
                return Err(Failure::usage(anyhow::anyhow!(
                    "there is no prompt `{file}`; the prompts are {}",
                    names.join(", ")
                )));
            };
            print!("{}", c.builtin_file());
            Ok(EXIT_OK)
        }
        PromptsCmd::List => {
            let mut stale = false;
            for c in CONTRACTS {
                let path = dir.join(c.file);
                let state = match load_one(&dir, c) {
                    Ok(_) if path.exists() => format!("overridden by {}", path.display()),
                    Ok(_) => "built in".to_string(),
                    Err(e) => {
                        stale = true;
                        format!("REFUSED: {e:#}")
                    }
                };
                println!(
                    "{:<16} {:<12} {state}",
                    c.file,
                    format!("{} {}", c.name, c.version)
                );
            }
            Ok(if stale { super::EXIT_USAGE } else { EXIT_OK })
        }
    }
}
