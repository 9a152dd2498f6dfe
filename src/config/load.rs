//! Reading `paperboy.toml` and the `PAPERBOY__SECTION__KEY` overrides, checking every key, and
//! reporting every problem at once, each with where it came from (file and line, or the
//! environment variable).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::Config;

/// One thing wrong with the configuration or the subscribers file, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The file, or `environment variable PAPERBOY__…`.
    pub source: String,
    pub line: Option<usize>,
    /// Dotted key, e.g. `llm.batch_size`.
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": key `{key}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", show(.0))]
    Problems(Vec<ConfigProblem>),
}

fn show(problems: &[ConfigProblem]) -> String {
    match problems {
        [one] => one.to_string(),
        many => {
            let mut s = format!("{} problems in the configuration:", many.len());
            for p in many {
                s.push_str(&format!("\n  {p}"));
            }
            s
        }
    }
}

impl ConfigError {
    pub fn problems(&self) -> Vec<ConfigProblem> {
        match self {
            ConfigError::Read { path, source } => vec![ConfigProblem {
                source: path.display().to_string(),
                line: None,
                key: None,
                message: format!(
                    "cannot read it: {}",
                    crate::support::limits::io_problem(source)
                ),
            }],
            ConfigError::Problems(p) => p.clone(),
        }
    }
}

/// Where each key came from, to name it in a problem.
struct Origins<'a> {
    file: String,
    text: Option<&'a str>,
    /// Dotted key → the environment variable that set it.
    env: HashMap<String, String>,
}

impl Origins<'_> {
    fn problem(&self, key: &str, message: String) -> ConfigProblem {
        match self.env.get(key) {
            Some(var) => ConfigProblem {
                source: format!("environment variable {var}"),
                line: None,
                key: Some(key.to_string()),
                message,
            },
            None => ConfigProblem {
                source: self.file.clone(),
                line: self.text.and_then(|t| line_of(t, key)),
                key: Some(key.to_string()),
                message,
            },
        }
    }
}

impl Config {
    /// Loads `path` (a missing file means all defaults, unless `required`), then applies
    /// `PAPERBOY__SECTION__KEY=value` overrides from `env`, then checks everything, reporting
    /// every problem found.
    pub fn load(
        path: &Path,
        required: bool,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => None,
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let mut table: toml::Table = match &text {
            Some(t) => t.parse().map_err(|e: toml::de::Error| {
                ConfigError::Problems(vec![ConfigProblem {
                    source: file.clone(),
                    line: e.span().map(|s| t[..s.start].lines().count().max(1)),
                    key: None,
                    message: format!("not valid TOML: {}", e.message()),
                }])
            })?,
            None => toml::Table::new(),
        };
        let mut origins = Origins {
            file,
            text: text.as_deref(),
            env: HashMap::new(),
        };
        let mut problems = apply_env_overrides(&mut table, env, &mut origins.env);
        let llm_configured = table.contains_key("llm");
        check_keys(&table, &[], &origins, &mut problems);
        let config = match toml::Value::Table(table.clone()).try_into::<Config>() {
            Ok(c) => Some(c),
            Err(e) => {
                if problems.is_empty() {
                    problems.push(ConfigProblem {
                        source: origins.file.clone(),
                        line: None,
                        key: None,
                        message: e.message().to_string(),
                    });
                }
                // Leave out the keys already reported and read the rest, so that their values
                // are checked in this round too: every problem at once, not one kind per run.
                let mut rest = table;
                for key in problems.iter().filter_map(|p| p.key.as_deref()) {
                    remove_key(&mut rest, key);
                }
                toml::Value::Table(rest).try_into::<Config>().ok()
            }
        };
        let Some(mut config) = config else {
            return Err(ConfigError::Problems(problems));
        };
        // Relative paths are read from the folder of the real file: a symlinked
        // /etc/paperboy/paperboy.toml pointing into /srv/lab finds /srv/lab's subscribers.toml.
        let real = match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => {
                std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
            }
            _ => path.to_path_buf(),
        };
        config.base_dir = match real.parent() {
            Some(p) if text.is_some() && !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        config.source = text.is_some().then(|| path.to_path_buf());
        config.source_text = text.clone();
        config.llm_configured = llm_configured;
        if let Some(imap) = &mut config.imap {
            if let Some(ca) = imap.ca_file.as_mut().filter(|c| c.is_relative()) {
                *ca = config.base_dir.join(&*ca);
            }
        }
        for (key, message) in config.check() {
            problems.push(origins.problem(&key, message));
        }
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Problems(problems))
        }
    }
}

/// Checks each key on its own: a configuration holding only that key (everything else default)
/// must deserialize. So one unknown key does not hide the next one.
fn check_keys(
    node: &toml::Table,
    at: &[String],
    origins: &Origins,
    problems: &mut Vec<ConfigProblem>,
) {
    for (key, value) in node {
        let mut path = at.to_vec();
        path.push(key.clone());
        let dotted = path.join(".");
        if let toml::Value::Table(inner) = value {
            // A section: unknown as a whole, or look at its keys one by one.
            let empty = only(&path, toml::Value::Table(toml::Table::new()));
            match toml::Value::Table(empty).try_into::<Config>() {
                Err(e) if e.message().starts_with("unknown field") => {
                    problems.push(origins.problem(&dotted, explain(e.message(), key)))
                }
                _ => check_keys(inner, &path, origins, problems),
            }
            continue;
        }
        let alone = only(&path, value.clone());
        if let Err(e) = toml::Value::Table(alone).try_into::<Config>() {
            // A key that needs its siblings (a price's fields) is checked with the whole file.
            if !e.message().starts_with("missing field") {
                problems.push(origins.problem(&dotted, explain(e.message(), key)));
            }
        }
    }
}

/// Removes the dotted `key` (`llm.batch_size`) from `table`, if it is there.
fn remove_key(table: &mut toml::Table, key: &str) {
    let mut node = table;
    let mut parts = key.split('.').peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            node.remove(part);
            return;
        }
        match node.get_mut(part) {
            Some(toml::Value::Table(inner)) => node = inner,
            _ => return,
        }
    }
}

/// A table holding only `value` at `path`.
fn only(path: &[String], value: toml::Value) -> toml::Table {
    let mut node = value;
    for key in path.iter().rev() {
        let mut t = toml::Table::new();
        t.insert(key.clone(), node);
        node = toml::Value::Table(t);
    }
    match node {
        toml::Value::Table(t) => t,
        _ => unreachable!("wrapped in at least one table"),
    }
}

/// serde's message, with the nearest known key for a typo.
fn explain(message: &str, key: &str) -> String {
    let Some(rest) = message.strip_prefix("unknown field") else {
        return message.to_string();
    };
    let expected: Vec<&str> = rest
        .split("expected")
        .nth(1)
        .map(|e| {
            e.split('`')
                .skip(1)
                .step_by(2)
                .filter(|k| !k.is_empty())
                .collect()
        })
        .unwrap_or_default();
    match expected
        .iter()
        .map(|k| (strsim::jaro_winkler(k, key), *k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
    {
        Some((_, near)) => format!("unknown key `{key}`; did you mean `{near}`?"),
        None => format!(
            "unknown key `{key}`; known keys here: {}",
            expected.join(", ")
        ),
    }
}

/// The line of `dotted` in the file: its section header, then the key within it.
fn line_of(text: &str, dotted: &str) -> Option<usize> {
    let mut parts: Vec<&str> = dotted.split('.').collect();
    let key = parts.pop()?;
    let section = parts.join(".");
    let mut in_section = section.is_empty();
    for (n, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.starts_with('[') {
            let name = t.trim_matches(|c| c == '[' || c == ']').trim();
            in_section = name == section;
            continue;
        }
        if in_section {
            let k = t.split('=').next().unwrap_or("").trim().trim_matches('"');
            if k == key && t.contains('=') {
                return Some(n + 1);
            }
        }
    }
    // A whole section: its header.
    text.lines()
        .position(|l| l.trim() == format!("[{dotted}]"))
        .map(|n| n + 1)
}

/// Applies `PAPERBOY__SECTION__KEY=value` overrides; records which variable set each key.
fn apply_env_overrides(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
    origins: &mut HashMap<String, String>,
) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    for (name, value) in env {
        let Some(rest) = name.strip_prefix("PAPERBOY__") else {
            continue;
        };
        let keys: Vec<String> = rest.split("__").map(|k| k.to_lowercase()).collect();
        let problem = |message: String| ConfigProblem {
            source: format!("environment variable {name}"),
            line: None,
            key: None,
            message,
        };
        if keys.iter().any(|k| k.is_empty()) {
            problems.push(problem(
                "an empty key segment (write PAPERBOY__SECTION__KEY)".into(),
            ));
            continue;
        }
        let parsed = format!("v = {value}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or(toml::Value::String(value.clone()));
        match insert_at(table, &keys, parsed) {
            Ok(()) => {
                origins.insert(keys.join("."), name.clone());
            }
            Err(message) => problems.push(problem(message)),
        }
    }
    problems
}

fn insert_at(table: &mut toml::Table, keys: &[String], value: toml::Value) -> Result<(), String> {
    let mut node = table;
    for key in &keys[..keys.len() - 1] {
        let entry = node
            .entry(key.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        node = entry
            .as_table_mut()
            .ok_or_else(|| format!("`{key}` is not a section"))?;
    }
    node.insert(keys[keys.len() - 1].clone(), value);
    Ok(())
}
