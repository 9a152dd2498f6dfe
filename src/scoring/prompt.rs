//! Prompt assembly. The static instructions (from `prompts/instructions.md`) come first, then the
//! reader's topics, then the papers, so the provider's prompt cache covers the long shared prefix.

use std::path::Path;

use anyhow::Context as _;
use sha2::{Digest as _, Sha256};

use crate::domain::Paper;
use crate::subscribers::hex;

/// Bump when the way papers are written into the prompt changes: cached verdicts made with another
/// layout are then not reused.
const LAYOUT_VERSION: &str = "papers-v1";

pub const INSTRUCTIONS_FILE: &str = "instructions.md";

#[derive(Debug, Clone)]
pub struct Prompts {
    instructions: String,
    version: String,
}

impl Prompts {
    pub fn load(dir: &Path) -> anyhow::Result<Prompts> {
        let path = dir.join(INSTRUCTIONS_FILE);
        let instructions = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read the scoring prompt {}", path.display()))?;
        anyhow::ensure!(
            !instructions.trim().is_empty(),
            "the scoring prompt {} is empty",
            path.display()
        );
        Ok(Prompts::from_text(instructions))
    }

    pub fn from_text(instructions: String) -> Prompts {
        let mut h = Sha256::new();
        h.update(LAYOUT_VERSION.as_bytes());
        h.update(instructions.as_bytes());
        Prompts {
            version: hex(&h.finalize())[..12].to_string(),
            instructions,
        }
    }

    /// Identifies the instructions and layout; part of every verdict's cache key.
    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn system(&self, profile: &str) -> String {
        format!(
            "{}\n\n## Relevant Topics\n\n{}\n",
            self.instructions.trim_end(),
            profile.trim()
        )
    }

    pub fn user(papers: &[&Paper]) -> String {
        let mut s = String::from("## Papers\n\n");
        for p in papers {
            s.push_str(&format!(
                "ArXiv ID: {}\nTitle: {}\nAbstract: {}\n\n",
                p.id, p.title, p.abstract_text
            ));
        }
        s.push_str(&format!(
            "Answer with exactly one JSON object per line for each of the {} papers above, with its ArXiv ID.\n",
            papers.len()
        ));
        s
    }
}

const REPLY_PROMPT: &str = include_str!("../../prompts/reply.md");

/// The instructions for reading a free-text reply as commands (`prompts/reply.md`, or the
/// built-in copy when the file is missing).
pub fn reply_prompt(dir: &Path) -> String {
    match std::fs::read_to_string(dir.join("reply.md")) {
        Ok(t) if !t.trim().is_empty() => t,
        _ => REPLY_PROMPT.to_string(),
    }
}
