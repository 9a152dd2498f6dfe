//! `paperboy subscribers pending` / `approve`: self-subscriptions waiting for the admin
//! (`[subscribe] approve = true`).

use std::io::Write as _;

use anyhow::Context as _;

use super::digest::build_app;
use super::{open_store, Failure, EXIT_OK};
use crate::config::Config;
use crate::domain::SubscriberEmail;
use crate::inbox::{Inbox, Wanted};
use crate::store::audit::Actor;

pub fn pending(config: &Config, json: bool) -> Result<u8, Failure> {
    let store = open_store(config)?;
    let waiting = store.join_requests_awaiting_approval()?;
    if json {
        let v: Vec<serde_json::Value> = waiting
            .iter()
            .map(|r| {
                let w: Wanted = serde_json::from_str(&r.fields).unwrap_or_default();
                serde_json::json!({"email": r.email, "requested_at": r.created_at, "asked_for": w})
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v).context("json")?);
        return Ok(EXIT_OK);
    }
    let mut out = std::io::stdout().lock();
    if waiting.is_empty() {
        let _ = writeln!(out, "No confirmed requests wait for approval.");
    }
    for r in &waiting {
        let w: Wanted = serde_json::from_str(&r.fields).unwrap_or_default();
        let _ = writeln!(
            out,
            "{}  requested {}  topics: {}  follows: {}",
            r.email,
            r.created_at,
            if w.topics.is_empty() {
                "(default)".to_string()
            } else {
                w.topics.join("; ")
            },
            if w.authors.is_empty() {
                "-".to_string()
            } else {
                w.authors.join(", ")
            }
        );
    }
    Ok(EXIT_OK)
}

pub async fn approve(config: Config, email: &SubscriberEmail) -> Result<u8, Failure> {
    let app = build_app(config).await?;
    let Some(req) = app.store.confirmed_join_request(email).await? else {
        return Err(Failure::usage(anyhow::anyhow!(
            "no confirmed request from {email} waits for approval (`paperboy subscribers pending` lists them)"
        )));
    };
    let inbox = Inbox::new(app.inbox_ctx())?;
    let welcome = inbox.admit(&req, &Actor::cli()).await?;
    let to = email.to_address();
    match app.outbox.send_once(&to, &welcome).await {
        Ok(_) => println!("approved {email}: added, welcome mail sent"),
        Err(e) => println!("approved {email}: added; the welcome mail could not be sent ({e})"),
    }
    Ok(EXIT_OK)
}
