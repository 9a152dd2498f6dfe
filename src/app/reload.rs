//! What a SIGHUP may take without the admin's word. A configuration is read whole and checked
//! like at startup; one that would lift a protection the running one has — open subscribing to
//! every domain, remove a spending limit, stop checking who sent a reply — is the signature of
//! a file caught half written as much as of a decision, so it waits for `paperboy reload
//! --accept`, which vouches for exactly the file as it is now (its hash).

use std::collections::BTreeMap;
use std::path::PathBuf;

use sha2::{Digest as _, Sha256};

use crate::config::Config;

/// The protections `new` drops that `old` has, each as a sentence.
pub fn security_drops(old: &Config, new: &Config) -> Vec<String> {
    let mut drops = Vec::new();
    if !old.subscribe.allowed_domains.is_empty()
        && new.subscribe.allowed_domains.is_empty()
        && new.subscribe.open
    {
        drops.push(format!(
            "[subscribe] allowed_domains (was {}): anyone could subscribe",
            old.subscribe.allowed_domains.join(", ")
        ));
    }
    for (key, was, now) in [
        ("daily_usd", old.budget.daily_usd, new.budget.daily_usd),
        (
            "monthly_usd",
            old.budget.monthly_usd,
            new.budget.monthly_usd,
        ),
        (
            "replies_usd",
            old.budget.replies_usd,
            new.budget.replies_usd,
        ),
    ] {
        if let (Some(was), None) = (was, now) {
            drops.push(format!("[budget] {key} (was {was:.2}): no limit"));
        }
    }
    let authserv = |c: &Config| c.imap.as_ref().and_then(|i| i.authserv_id.clone());
    if let (Some(was), None) = (authserv(old), authserv(new)) {
        drops.push(format!(
            "[imap] authserv_id (was {was}): replies would be trusted by their From alone"
        ));
    }
    drops
}

/// The keys (`section.key`) whose values differ between two configuration files: added,
/// removed or changed. Values are not shown (secrets live in some).
pub fn changed_keys(old: Option<&str>, new: Option<&str>) -> Vec<String> {
    let flat = |text: Option<&str>| -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        if let Some(table) = text.and_then(|t| t.parse::<toml::Table>().ok()) {
            flatten("", &toml::Value::Table(table), &mut out);
        }
        out
    };
    let (old, new) = (flat(old), flat(new));
    let mut keys: Vec<String> = Vec::new();
    for (k, v) in &new {
        match old.get(k) {
            None => keys.push(format!("+{k}")),
            Some(was) if was != v => keys.push(format!("~{k}")),
            Some(_) => {}
        }
    }
    keys.extend(
        old.keys()
            .filter(|k| !new.contains_key(*k))
            .map(|k| format!("-{k}")),
    );
    keys
}

fn flatten(at: &str, v: &toml::Value, out: &mut BTreeMap<String, String>) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        other => {
            out.insert(at.to_string(), other.to_string());
        }
    }
}

/// Where `paperboy reload --accept` leaves its word: next to the store.
pub fn accept_path(config: &Config) -> PathBuf {
    config
        .resolve(&config.store.path)
        .with_extension("reload-accept")
}

/// The hash an acceptance holds: of the file's text exactly.
pub fn text_hash(text: &str) -> String {
    crate::support::text::hex(&Sha256::digest(text.as_bytes()))
}

/// Whether the admin accepted `text` (`paperboy reload --accept` when the file read so); the
/// acceptance is used up either way once a reload reads it.
pub fn accepted(config: &Config, text: Option<&str>) -> bool {
    let path = accept_path(config);
    let Ok(word) = std::fs::read_to_string(&path) else {
        return false;
    };
    let _ = std::fs::remove_file(&path);
    text.is_some_and(|t| word.trim() == text_hash(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_cut_short_drops_its_protections_and_says_which_keys() {
        let whole = "[subscribe]\nopen = true\nallowed_domains = [\"lab.example.org\"]\n\n[budget]\ndaily_usd = 5.0\n";
        let cut = "[subscribe]\nopen = true\n";
        let load = |t: &str| {
            let dir = tempfile::tempdir().unwrap();
            let p = dir.path().join("paperboy.toml");
            std::fs::write(&p, t).unwrap();
            Config::load(&p, true, Vec::<(String, String)>::new()).unwrap()
        };
        let drops = security_drops(&load(whole), &load(cut));
        assert_eq!(drops.len(), 2, "{drops:?}");
        assert!(drops[0].starts_with("[subscribe] allowed_domains (was lab.example.org)"));
        assert!(drops[1].starts_with("[budget] daily_usd (was 5.00)"));
        assert!(security_drops(&load(cut), &load(whole)).is_empty());
        assert_eq!(
            changed_keys(Some(whole), Some(cut)),
            vec!["-budget.daily_usd", "-subscribe.allowed_domains"]
        );
    }
}
