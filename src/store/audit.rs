use rusqlite::{params, Connection};

use super::{now_utc, Store};
use crate::domain::SubscriberEmail;

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The admin command line; the detail is the Unix user.
    Cli(String),
    /// A subscriber's reply; the detail is the reply's Message-ID.
    Reply(String),
}

impl Actor {
    /// The Unix user at the command line; under sudo, the person who ran sudo ("ada via sudo").
    pub fn cli() -> Actor {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "unknown".into());
        Actor::Cli(match std::env::var("SUDO_USER") {
            Ok(s) if !s.is_empty() && s != user => format!("{s} via sudo"),
            _ => user,
        })
    }

    fn parts(&self) -> (&'static str, &str) {
        match self {
            Actor::Cli(d) => ("cli", d),
            Actor::Reply(d) => ("reply", d),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuditRow {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub detail: Option<String>,
    pub subscriber: String,
    pub action: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

pub fn record(
    conn: &Connection,
    actor: &Actor,
    subscriber: &str,
    action: &str,
    before: Option<&serde_json::Value>,
    after: Option<&serde_json::Value>,
) -> rusqlite::Result<i64> {
    let (who, detail) = actor.parts();
    conn.execute(
        "INSERT INTO audit (at, actor, detail, subscriber, action, before, after) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![now_utc(), who, detail, subscriber, action, before.map(|v| v.to_string()), after.map(|v| v.to_string())],
    )?;
    Ok(conn.last_insert_rowid())
}

impl Store {
    /// Audits a change to `subscriber`; when they are gone afterwards (`after` is `None`), their
    /// reply and unsubscribe addresses stop working.
    pub fn record_change(
        &self,
        actor: &Actor,
        subscriber: &SubscriberEmail,
        action: &str,
        before: Option<&serde_json::Value>,
        after: Option<&serde_json::Value>,
    ) -> anyhow::Result<()> {
        self.with(|c| {
            record(c, actor, subscriber.as_str(), action, before, after)?;
            if after.is_none() {
                super::inbox::forget(c, subscriber.as_str())?;
            }
            Ok(())
        })
    }
}

/// The changes to one subscriber, oldest first.
pub fn history(conn: &Connection, subscriber: &str) -> rusqlite::Result<Vec<AuditRow>> {
    let mut stmt = conn.prepare(
        "SELECT id, at, actor, detail, subscriber, action, before, after FROM audit WHERE subscriber = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([subscriber], |r| {
        let json = |s: Option<String>| s.and_then(|s| serde_json::from_str(&s).ok());
        Ok(AuditRow {
            id: r.get(0)?,
            at: r.get(1)?,
            actor: r.get(2)?,
            detail: r.get(3)?,
            subscriber: r.get(4)?,
            action: r.get(5)?,
            before: json(r.get(6)?),
            after: json(r.get(7)?),
        })
    })?;
    rows.collect()
}

impl Store {
    /// The changes to one subscriber, oldest first.
    pub async fn audit_history(
        &self,
        subscriber: &SubscriberEmail,
    ) -> anyhow::Result<Vec<AuditRow>> {
        let s = subscriber.to_string();
        self.call(move |c| history(c, &s)).await
    }

    /// The changes to one subscriber, oldest first (for synchronous callers).
    pub fn audit_history_now(&self, subscriber: &SubscriberEmail) -> anyhow::Result<Vec<AuditRow>> {
        self.with(|c| history(c, subscriber.as_str()))
    }
}

impl Store {
    /// The readers whose entry was last made by subscribing themselves by mail (not by the
    /// admin): their profiles hold a stranger's words.
    pub async fn self_subscribed(&self) -> anyhow::Result<std::collections::HashSet<String>> {
        self.call(|c| {
            let mut stmt = c.prepare(
                "SELECT DISTINCT a.subscriber FROM audit a WHERE a.action = 'self-subscribed'
                   AND NOT EXISTS (SELECT 1 FROM audit b WHERE b.subscriber = a.subscriber
                                   AND b.action = 'add' AND b.id > a.id)",
            )?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect()
        })
        .await
    }
}
