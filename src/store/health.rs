//! How the services the daemon depends on have been doing (`health`), and the problems the
//! admin has been told about (`problems`, one row per problem until it clears).

use rusqlite::{params, Connection, OptionalExtension as _};

use super::{now_utc, Store};

/// A service the daemon uses again and again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Inbox,
    /// The outgoing mail transport (SMTP, or the outbox folder).
    Mail,
    Webhook,
    /// The `/metrics` endpoint (accepting connections).
    Metrics,
}

impl Service {
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Inbox => "inbox",
            Service::Mail => "mail",
            Service::Webhook => "webhook",
            Service::Metrics => "metrics",
        }
    }
}

/// One service's record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ServiceHealth {
    pub service: String,
    pub ok_at: Option<String>,
    pub failed_at: Option<String>,
    /// The last failure, while it lasts.
    pub error: Option<String>,
    /// Failures in a row (0: working).
    pub failing: i64,
    pub failures: i64,
}

/// Records one attempt at `service`.
pub fn record(
    conn: &Connection,
    service: Service,
    outcome: Result<(), &str>,
) -> rusqlite::Result<()> {
    let now = now_utc();
    match outcome {
        Ok(()) => conn.execute(
            "INSERT INTO health (service, ok_at) VALUES (?1, ?2)
             ON CONFLICT (service) DO UPDATE SET ok_at = ?2, error = NULL, failing = 0",
            params![service.as_str(), now],
        )?,
        Err(e) => conn.execute(
            "INSERT INTO health (service, failed_at, error, failing, failures) VALUES (?1, ?2, ?3, 1, 1)
             ON CONFLICT (service) DO UPDATE SET failed_at = ?2, error = ?3,
                 failing = failing + 1, failures = failures + 1",
            params![service.as_str(), now, e],
        )?,
    };
    Ok(())
}

/// Every service's record, by name.
pub fn services(conn: &mut Connection) -> rusqlite::Result<Vec<ServiceHealth>> {
    conn.prepare(
        "SELECT service, ok_at, failed_at, error, failing, failures FROM health ORDER BY service",
    )?
    .query_map([], |r| {
        Ok(ServiceHealth {
            service: r.get(0)?,
            ok_at: r.get(1)?,
            failed_at: r.get(2)?,
            error: r.get(3)?,
            failing: r.get(4)?,
            failures: r.get(5)?,
        })
    })?
    .collect()
}

/// Opens the problem `key` (or notes it again). Returns the new spell's id when it is new, i.e.
/// the admin has not been told yet; `None` while it lasts.
pub fn open_problem(conn: &Connection, key: &str, summary: &str) -> rusqlite::Result<Option<i64>> {
    let now = now_utc();
    let updated = conn.execute(
        "UPDATE problems SET seen_at = ?2, times = times + 1, summary = ?3
         WHERE key = ?1 AND resolved_at IS NULL",
        params![key, now, summary],
    )?;
    if updated > 0 {
        return Ok(None);
    }
    conn.execute(
        "INSERT INTO problems (key, summary, opened_at, seen_at) VALUES (?1, ?2, ?3, ?3)",
        params![key, summary, now],
    )?;
    Ok(Some(conn.last_insert_rowid()))
}

/// Closes the problem `key`. Returns its summary when it was open (the admin is told it cleared).
pub fn resolve_problem(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    let summary: Option<String> = conn
        .query_row(
            "SELECT summary FROM problems WHERE key = ?1 AND resolved_at IS NULL",
            [key],
            |r| r.get(0),
        )
        .optional()?;
    if summary.is_some() {
        conn.execute(
            "UPDATE problems SET resolved_at = ?2 WHERE key = ?1",
            params![key, now_utc()],
        )?;
    }
    Ok(summary)
}

/// The open problems whose key starts with `prefix`, as (key, summary).
pub fn open_problems(conn: &Connection, prefix: &str) -> rusqlite::Result<Vec<(String, String)>> {
    conn.prepare(
        "SELECT key, summary FROM problems WHERE resolved_at IS NULL AND substr(key, 1, length(?1)) = ?1 ORDER BY opened_at",
    )?
    .query_map([prefix], |r| Ok((r.get(0)?, r.get(1)?)))?
    .collect()
}

impl Store {
    pub async fn record_health(
        &self,
        service: Service,
        outcome: Result<(), String>,
    ) -> anyhow::Result<()> {
        self.call(move |c| {
            record(
                c,
                service,
                outcome.as_ref().map(|_| ()).map_err(String::as_str),
            )
        })
        .await
    }

    /// Every service's record (those never used have none).
    pub fn health_now(&self) -> anyhow::Result<Vec<ServiceHealth>> {
        self.with(services)
    }

    /// Alerts the admin has not received: refused for good, or tried and still waiting.
    pub fn unsent_alerts_now(&self) -> anyhow::Result<i64> {
        self.with(|c| {
            c.query_row(
                "SELECT count(*) FROM alerts WHERE status = 'failed' OR (status = 'pending' AND attempts > 0)",
                [],
                |r| r.get(0),
            )
        })
    }

    pub async fn open_problem(&self, key: &str, summary: &str) -> anyhow::Result<Option<i64>> {
        let (key, summary) = (key.to_string(), summary.to_string());
        self.call(move |c| open_problem(c, &key, &summary)).await
    }

    pub async fn resolve_problem(&self, key: &str) -> anyhow::Result<Option<String>> {
        let key = key.to_string();
        self.call(move |c| resolve_problem(c, &key)).await
    }

    pub async fn open_problems(&self, prefix: &str) -> anyhow::Result<Vec<(String, String)>> {
        let prefix = prefix.to_string();
        self.call(move |c| open_problems(c, &prefix)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lasting_problem_is_new_once_and_clears_once() {
        let store = Store::open_in_memory().unwrap();
        store
            .with(|c| {
                assert!(open_problem(c, "run:model_auth", "the key was refused")?.is_some());
                assert!(open_problem(c, "run:model_auth", "the key was refused")?.is_none());
                assert_eq!(open_problems(c, "run:")?.len(), 1);
                assert_eq!(
                    resolve_problem(c, "run:model_auth")?.as_deref(),
                    Some("the key was refused")
                );
                assert_eq!(resolve_problem(c, "run:model_auth")?, None);
                assert!(
                    open_problem(c, "run:model_auth", "again")?.is_some(),
                    "a new spell is new"
                );
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn health_counts_failures_in_a_row_and_clears_on_success() {
        let store = Store::open_in_memory().unwrap();
        store
            .with(|c| {
                record(c, Service::Inbox, Err("login refused"))?;
                record(c, Service::Inbox, Err("login refused"))?;
                Ok(())
            })
            .unwrap();
        let h = &store.health_now().unwrap()[0];
        assert_eq!(
            (h.failing, h.failures, h.error.as_deref()),
            (2, 2, Some("login refused"))
        );
        store.with(|c| record(c, Service::Inbox, Ok(()))).unwrap();
        let h = &store.health_now().unwrap()[0];
        assert_eq!((h.failing, h.failures, h.error.as_deref()), (0, 2, None));
        assert!(h.ok_at.is_some());
    }
}

/// What the metrics endpoint shows, read from the store in one go.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// The latest digest run that was not a dry run: (status, finished or started at, papers).
    pub last_run: Option<(String, String, i64)>,
    /// Digests by delivery status (`sent`, `pending`, `failed`).
    pub digests: Vec<(String, i64)>,
    /// Everything waiting in the outbox: digests, alerts and answers.
    pub queue_depth: i64,
    pub spend_micros: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub alerts_unsent: i64,
    pub services: Vec<ServiceHealth>,
    pub open_problems: i64,
}

impl Store {
    pub async fn snapshot(&self) -> anyhow::Result<Snapshot> {
        let services = self.call(services).await?;
        let alerts_unsent = self.unsent_alerts_now()?;
        self.call(move |c| {
            use rusqlite::OptionalExtension as _;
            let last_run = c
                .query_row(
                    "SELECT status, coalesce(finished_at, started_at), coalesce(papers_fetched, 0)
                     FROM runs WHERE kind = 'digest' AND dry_run = 0 ORDER BY id DESC LIMIT 1",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let digests = c
                .prepare("SELECT status, count(*) FROM deliveries GROUP BY status ORDER BY status")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let queue_depth: i64 = c.query_row(
                "SELECT (SELECT count(*) FROM deliveries WHERE status = 'pending')
                      + (SELECT count(*) FROM alerts WHERE status = 'pending')
                      + (SELECT count(*) FROM inbound WHERE reply IS NOT NULL AND reply_status = 'pending')",
                [],
                |r| r.get(0),
            )?;
            let (spend_micros, prompt_tokens, completion_tokens) = c.query_row(
                "SELECT coalesce(sum(cost_micros), 0), coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0) FROM spend",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            let open_problems: i64 = c.query_row(
                "SELECT count(*) FROM problems WHERE resolved_at IS NULL",
                [],
                |r| r.get(0),
            )?;
            Ok(Snapshot {
                last_run,
                digests,
                queue_depth,
                spend_micros,
                prompt_tokens,
                completion_tokens,
                alerts_unsent,
                services,
                open_problems,
            })
        })
        .await
    }
}
