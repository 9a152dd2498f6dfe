//! The delivery ledger: one row per subscriber and announcement day. A row is written (pending,
//! with the exact message bytes and Message-ID) before the send and marked sent after it, in the
//! same transaction that records which papers the subscriber has now seen. A crash between the two
//! leaves a pending row whose identical message is sent again on the next run; mail clients fold
//! the two copies by their shared Message-ID.

use chrono::NaiveDate;
use rusqlite::{params, Connection, OptionalExtension};

use super::now_utc;
use crate::domain::{PaperId, SubscriberEmail};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    Pending,
    Sent,
    Failed,
}

#[derive(Debug, Clone)]
pub struct Delivery {
    pub subscriber: String,
    pub day: NaiveDate,
    pub status: DeliveryStatus,
    pub kind: String,
    pub message_id: String,
    pub subject: String,
    pub paper_ids: Vec<PaperId>,
    pub message: Vec<u8>,
    pub attempts: i64,
    pub last_error: Option<String>,
}

/// The delivery of `subscriber` on `day`, its message as it was sent (from its bundle, or
/// inflated).
pub fn get(
    conn: &Connection,
    subscriber: &str,
    day: NaiveDate,
) -> rusqlite::Result<Option<Delivery>> {
    let Some(mut d) = get_stored(conn, subscriber, day)? else {
        return Ok(None);
    };
    d.message = super::bundles::message_bytes(conn, &d.message)?;
    Ok(Some(d))
}

fn get_stored(
    conn: &Connection,
    subscriber: &str,
    day: NaiveDate,
) -> rusqlite::Result<Option<Delivery>> {
    conn.query_row(
        "SELECT subscriber, day, status, kind, message_id, subject, paper_ids, message, attempts, last_error
         FROM deliveries WHERE subscriber = ?1 AND day = ?2",
        params![subscriber, day.to_string()],
        |r| {
            let status: String = r.get(2)?;
            let ids: String = r.get(6)?;
            Ok(Delivery {
                subscriber: r.get(0)?,
                day,
                status: match status.as_str() {
                    "sent" => DeliveryStatus::Sent,
                    "failed" => DeliveryStatus::Failed,
                    _ => DeliveryStatus::Pending,
                },
                kind: r.get(3)?,
                message_id: r.get(4)?,
                subject: r.get(5)?,
                paper_ids: serde_json::from_str::<Vec<String>>(&ids)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|s| PaperId::parse(s).ok())
                    .collect(),
                message: r.get(7)?,
                attempts: r.get(8)?,
                last_error: r.get(9)?,
            })
        },
    )
    .optional()
}

/// Records the message about to be sent. Returns `false` (and writes nothing) when a row for this
/// subscriber and day already exists: the unique key is what makes a second digest impossible.
#[allow(clippy::too_many_arguments)]
pub fn create_pending(
    conn: &Connection,
    subscriber: &str,
    day: NaiveDate,
    run_id: i64,
    kind: &str,
    message_id: &str,
    subject: &str,
    paper_ids: &[PaperId],
    message: &[u8],
    page: Option<&str>,
) -> rusqlite::Result<bool> {
    let ids: Vec<&str> = paper_ids.iter().map(PaperId::as_str).collect();
    let n = conn.execute(
        "INSERT INTO deliveries (subscriber, day, run_id, status, kind, message_id, subject, paper_ids, message, created_at, page_z)
         VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT(subscriber, day) DO NOTHING",
        params![
            subscriber,
            day.to_string(),
            run_id,
            kind,
            message_id,
            subject,
            serde_json::to_string(&ids).expect("strings serialize"),
            super::packed::pack(message),
            now_utc(),
            page.map(|p| super::packed::pack(p.as_bytes()))
        ],
    )?;
    Ok(n == 1)
}

/// Marks the delivery sent and remembers its papers as seen by the subscriber, atomically.
pub fn mark_sent(conn: &mut Connection, subscriber: &str, day: NaiveDate) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    tx.execute(
        "UPDATE deliveries SET status = 'sent', sent_at = ?3, attempts = attempts + 1, last_error = NULL
         WHERE subscriber = ?1 AND day = ?2",
        params![subscriber, day.to_string(), now_utc()],
    )?;
    let ids: String = tx.query_row(
        "SELECT paper_ids FROM deliveries WHERE subscriber = ?1 AND day = ?2",
        params![subscriber, day.to_string()],
        |r| r.get(0),
    )?;
    let ids: Vec<String> = serde_json::from_str(&ids).unwrap_or_default();
    {
        let mut stmt = tx.prepare(
            "INSERT INTO sent_papers (subscriber, paper_id, day) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        )?;
        for id in ids {
            stmt.execute(params![subscriber, id, day.to_string()])?;
        }
    }
    tx.commit()
}

/// Records a failed attempt. `permanent` failures are not retried by later runs.
pub fn mark_failed(
    conn: &Connection,
    subscriber: &str,
    day: NaiveDate,
    error: &str,
    permanent: bool,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE deliveries SET status = ?3, attempts = attempts + 1, last_error = ?4 WHERE subscriber = ?1 AND day = ?2",
        params![subscriber, day.to_string(), if permanent { "failed" } else { "pending" }, error],
    )?;
    Ok(())
}

/// Papers already sent to `subscriber` among `ids` (on any day but `except_day`, when given).
/// Deliveries for the admin's queue, newest day first: all, or only failed and pending ones, or
/// one day's. The message bytes are left out.
pub fn list(
    conn: &Connection,
    unsent_only: bool,
    day: Option<NaiveDate>,
    limit: usize,
) -> rusqlite::Result<Vec<Delivery>> {
    let mut stmt = conn.prepare(
        "SELECT subscriber, day, status, kind, message_id, subject, paper_ids, attempts, last_error
         FROM deliveries
         WHERE (?1 = 0 OR status <> 'sent') AND (?2 IS NULL OR day = ?2)
         ORDER BY day DESC, subscriber LIMIT ?3",
    )?;
    let rows = stmt.query_map(
        params![unsent_only, day.map(|d| d.to_string()), limit as i64],
        |r| {
            let day: String = r.get(1)?;
            let ids: String = r.get(6)?;
            Ok(Delivery {
                subscriber: r.get(0)?,
                day: day.parse().unwrap_or_default(),
                status: status_of(&r.get::<_, String>(2)?),
                kind: r.get(3)?,
                message_id: r.get(4)?,
                subject: r.get(5)?,
                paper_ids: parse_ids(&ids),
                message: Vec::new(),
                attempts: r.get(7)?,
                last_error: r.get(8)?,
            })
        },
    )?;
    rows.collect()
}

impl super::Store {
    /// The delivery queue: the latest rows (only failed ones, or one day's, when asked).
    pub fn deliveries_now(
        &self,
        unsent_only: bool,
        day: Option<NaiveDate>,
        limit: usize,
    ) -> anyhow::Result<Vec<Delivery>> {
        self.with(|c| list(c, unsent_only, day, limit))
    }
}

/// Every paper sent to `subscriber`, by day (oldest first), with its title.
pub fn sent_papers(
    conn: &Connection,
    subscriber: &str,
) -> rusqlite::Result<Vec<(NaiveDate, PaperId, String)>> {
    let mut stmt = conn.prepare(
        "SELECT s.day, s.paper_id, coalesce(p.title, '') FROM sent_papers s
         LEFT JOIN papers p ON p.id = s.paper_id WHERE s.subscriber = ?1 ORDER BY s.day, s.rowid",
    )?;
    let rows = stmt.query_map([subscriber], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (day, id, title) = row?;
        if let (Ok(day), Ok(id)) = (day.parse(), PaperId::parse(&id)) {
            out.push((day, id, title));
        }
    }
    Ok(out)
}

impl super::Store {
    /// Every paper sent to `subscriber`, with the day.
    pub fn sent_papers_now(
        &self,
        subscriber: &SubscriberEmail,
    ) -> anyhow::Result<Vec<(NaiveDate, PaperId, String)>> {
        let s = subscriber.to_string();
        self.with(|c| sent_papers(c, &s))
    }
}

fn status_of(s: &str) -> DeliveryStatus {
    match s {
        "sent" => DeliveryStatus::Sent,
        "failed" => DeliveryStatus::Failed,
        _ => DeliveryStatus::Pending,
    }
}

fn parse_ids(json: &str) -> Vec<PaperId> {
    serde_json::from_str::<Vec<String>>(json)
        .unwrap_or_default()
        .iter()
        .filter_map(|s| PaperId::parse(s).ok())
        .collect()
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Failed => "failed",
        }
    }
}

/// The latest day a digest was recorded for `subscriber` (whatever its status).
pub fn latest_day(conn: &Connection, subscriber: &str) -> rusqlite::Result<Option<NaiveDate>> {
    let day: Option<String> = conn.query_row(
        "SELECT max(day) FROM deliveries WHERE subscriber = ?1",
        [subscriber],
        |r| r.get(0),
    )?;
    Ok(day.and_then(|d| d.parse().ok()))
}

impl super::Store {
    /// The latest day a digest was recorded for each of `subscribers` (whatever its status), in
    /// their order; read in one go.
    pub async fn latest_delivery_days(
        &self,
        subscribers: &[SubscriberEmail],
    ) -> anyhow::Result<Vec<Option<NaiveDate>>> {
        let emails: Vec<String> = subscribers.iter().map(|s| s.to_string()).collect();
        self.call(move |c| {
            emails
                .iter()
                .map(|e| latest_day(c, e))
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .await
    }
}

/// Papers the reader already has (their own library): recorded as seen on `day`, so they are
/// never offered as new. Returns how many were new to the record.
pub fn remember_known(
    conn: &Connection,
    subscriber: &str,
    ids: &[PaperId],
    day: NaiveDate,
) -> rusqlite::Result<usize> {
    let mut stmt = conn.prepare(
        "INSERT INTO sent_papers (subscriber, paper_id, day) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
    )?;
    let mut n = 0;
    for id in ids {
        n += stmt.execute(params![subscriber, id.as_str(), day.to_string()])?;
    }
    Ok(n)
}

/// Moves the subscriber's delivery of `day` aside (kept in `superseded_deliveries`) and forgets
/// which papers it sent, so the day can be sent again on the admin's word. Returns whether
/// there was one.
pub fn supersede(
    conn: &mut Connection,
    subscriber: &str,
    day: NaiveDate,
) -> rusqlite::Result<bool> {
    let tx = conn.transaction()?;
    let day = day.to_string();
    let moved = tx.execute(
        "INSERT INTO superseded_deliveries (subscriber, day, status, message_id, subject, paper_ids, message, created_at, superseded_at)
         SELECT subscriber, day, status, message_id, subject, paper_ids, message, created_at, ?3
         FROM deliveries WHERE subscriber = ?1 AND day = ?2",
        params![subscriber, day, now_utc()],
    )?;
    tx.execute(
        "DELETE FROM deliveries WHERE subscriber = ?1 AND day = ?2",
        params![subscriber, day],
    )?;
    tx.execute(
        "DELETE FROM sent_papers WHERE subscriber = ?1 AND day = ?2",
        params![subscriber, day],
    )?;
    tx.commit()?;
    Ok(moved > 0)
}

pub fn already_sent(
    conn: &Connection,
    subscriber: &str,
    ids: &[PaperId],
    except_day: Option<NaiveDate>,
) -> rusqlite::Result<std::collections::HashSet<PaperId>> {
    let mut stmt = conn.prepare_cached(
        "SELECT 1 FROM sent_papers WHERE subscriber = ?1 AND paper_id = ?2 AND (?3 IS NULL OR day <> ?3)",
    )?;
    let except = except_day.map(|d| d.to_string());
    let mut out = std::collections::HashSet::new();
    for id in ids {
        if stmt.exists(params![subscriber, id.as_str(), except])? {
            out.insert(id.clone());
        }
    }
    Ok(out)
}

/// The latest delivery marked sent to `subscriber`.
pub fn latest_sent(conn: &Connection, subscriber: &str) -> rusqlite::Result<Option<Delivery>> {
    let day: Option<String> = conn
        .query_row(
            "SELECT day FROM deliveries WHERE subscriber = ?1 AND status = 'sent' ORDER BY day DESC LIMIT 1",
            [subscriber],
            |r| r.get(0),
        )
        .optional()?;
    match day.and_then(|d| d.parse::<NaiveDate>().ok()) {
        Some(day) => get(conn, subscriber, day),
        None => Ok(None),
    }
}

/// A digest about to be sent, as its delivery row holds it.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub subscriber: SubscriberEmail,
    pub day: NaiveDate,
    pub run_id: i64,
    /// `digest`, or `empty` (the note of a day where nothing matched).
    pub kind: &'static str,
    pub message_id: String,
    pub subject: String,
    /// Every paper listed, past the cap too: none is offered twice.
    pub paper_ids: Vec<PaperId>,
    pub message: Vec<u8>,
    /// What the archive shows of it.
    pub page: Option<String>,
}

/// The ledger as typed methods.
impl super::Store {
    /// The digest of `subscriber` for `day`, if one is recorded.
    pub async fn delivery(
        &self,
        subscriber: &SubscriberEmail,
        day: NaiveDate,
    ) -> anyhow::Result<Option<Delivery>> {
        let s = subscriber.to_string();
        self.call(move |c| get(c, &s, day)).await
    }

    /// When the digest of `subscriber` for `day` was made (RFC 3339), if there is one.
    pub async fn delivery_made_at(
        &self,
        subscriber: &str,
        day: NaiveDate,
    ) -> anyhow::Result<Option<String>> {
        let s = subscriber.to_string();
        self.call(move |c| {
            c.query_row(
                "SELECT created_at FROM deliveries WHERE subscriber = ?1 AND day = ?2",
                rusqlite::params![s, day.to_string()],
                |r| r.get(0),
            )
            .optional()
        })
        .await
    }

    /// The digest of `subscriber` for `day`, or (no day) the latest one sent.
    pub async fn delivery_or_latest(
        &self,
        subscriber: &SubscriberEmail,
        day: Option<NaiveDate>,
    ) -> anyhow::Result<Option<Delivery>> {
        let s = subscriber.to_string();
        self.call(move |c| match day {
            Some(day) => get(c, &s, day),
            None => latest_sent(c, &s),
        })
        .await
    }

    /// Sets the digest of `subscriber` for `day` aside (to send the day again); whether there
    /// was one.
    pub async fn supersede_delivery(
        &self,
        subscriber: &SubscriberEmail,
        day: NaiveDate,
    ) -> anyhow::Result<bool> {
        let s = subscriber.to_string();
        self.call(move |c| supersede(c, &s, day)).await
    }

    /// Records `delivery` as pending (its exact bytes, before the send) and, in the same
    /// transaction, what it settles and still owes the reader; `false` (nothing written) if
    /// the day already has a row.
    pub async fn record_pending_delivery(
        &self,
        delivery: NewDelivery,
        ledger: super::owed::Ledger,
    ) -> anyhow::Result<bool> {
        self.call(move |c| {
            let tx = c.transaction()?;
            let d = &delivery;
            let email = d.subscriber.as_str();
            let created = create_pending(
                &tx,
                email,
                d.day,
                d.run_id,
                d.kind,
                &d.message_id,
                &d.subject,
                &d.paper_ids,
                &d.message,
                d.page.as_deref(),
            )?;
            if created {
                super::owed::settle(&tx, email, &ledger.settled)?;
                super::owed::add(&tx, email, d.day, &ledger.owed)?;
            }
            tx.commit()?;
            Ok(created)
        })
        .await
    }

    /// Papers of `subscriber`'s own library, known to them as of `day`: never sent as new;
    /// how many were not known yet.
    pub async fn remember_known(
        &self,
        subscriber: &SubscriberEmail,
        ids: Vec<PaperId>,
        day: NaiveDate,
    ) -> anyhow::Result<usize> {
        let s = subscriber.to_string();
        self.call(move |c| remember_known(c, &s, &ids, day)).await
    }

    /// The latest digest sent to `subscriber`.
    pub fn latest_sent_to(&self, subscriber: &SubscriberEmail) -> anyhow::Result<Option<Delivery>> {
        self.with(|c| latest_sent(c, subscriber.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn one_row_per_subscriber_and_day() {
        let store = Store::open_in_memory().unwrap();
        let day = NaiveDate::from_ymd_opt(2025, 3, 28).unwrap();
        let ids = vec![PaperId::parse("2503.21135").unwrap()];
        let first = store
            .with(|c| {
                create_pending(
                    c,
                    "a@lab.org",
                    day,
                    1,
                    "digest",
                    "<m1@x>",
                    "s",
                    &ids,
                    b"mail",
                    None,
                )
            })
            .unwrap();
        let second = store
            .with(|c| {
                create_pending(
                    c,
                    "a@lab.org",
                    day,
                    2,
                    "digest",
                    "<m2@x>",
                    "s",
                    &ids,
                    b"other",
                    None,
                )
            })
            .unwrap();
        assert!(first);
        assert!(!second);
        let d = store.with(|c| get(c, "a@lab.org", day)).unwrap().unwrap();
        assert_eq!(
            (d.status, d.message_id.as_str(), d.message.as_slice()),
            (DeliveryStatus::Pending, "<m1@x>", &b"mail"[..])
        );
        assert!(store
            .with(|c| already_sent(c, "a@lab.org", &ids, None))
            .unwrap()
            .is_empty());
        store.with(|c| mark_sent(c, "a@lab.org", day)).unwrap();
        assert_eq!(
            store
                .with(|c| get(c, "a@lab.org", day))
                .unwrap()
                .unwrap()
                .status,
            DeliveryStatus::Sent
        );
        assert_eq!(
            store
                .with(|c| already_sent(c, "a@lab.org", &ids, None))
                .unwrap()
                .len(),
            1
        );
    }
}
