//! Subscribing by mail: requests awaiting their confirmation (and the admin's approval).

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension as _};

use super::{now_utc, Store};
use crate::domain::SubscriberEmail;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinRequest {
    pub token: String,
    pub email: String,
    /// JSON of the fields asked for (name, topics, authors, language).
    pub fields: String,
    pub status: JoinStatus,
    pub created_at: String,
    pub expires_at: String,
}

/// Records a request; returns its one-time token.
pub fn create(
    conn: &Connection,
    email: &str,
    fields: &str,
    now: DateTime<Utc>,
    valid_hours: i64,
) -> rusqlite::Result<String> {
    let token = uuid::Uuid::new_v4().simple().to_string();
    let fmt = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    conn.execute(
        "INSERT INTO join_requests (token, email, fields, status, created_at, expires_at)
         VALUES (?1, ?2, ?3, 'pending', ?4, ?5)",
        params![
            token,
            email,
            fields,
            fmt(now),
            fmt(now + chrono::Duration::hours(valid_hours))
        ],
    )?;
    Ok(token)
}

impl Store {
    /// Records a subscribe request from `email`, valid for `valid_hours`; returns its one-time token.
    pub async fn create_join_request(
        &self,
        email: &SubscriberEmail,
        fields: &str,
        now: DateTime<Utc>,
        valid_hours: i64,
    ) -> anyhow::Result<String> {
        let (e, fields) = (email.to_string(), fields.to_string());
        self.call(move |c| create(c, &e, &fields, now, valid_hours))
            .await
    }
}

/// Mails sent by subscribing since `since`: to `address` (its +tag removed), to `domain`, and
/// in all.
pub fn subscribe_mail_since(
    conn: &Connection,
    address: &str,
    domain: &str,
    since: DateTime<Utc>,
) -> rusqlite::Result<(i64, i64, i64)> {
    let since = since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    conn.query_row(
        "SELECT coalesce(sum(address = ?1), 0), coalesce(sum(domain = ?2), 0), count(*)
         FROM subscribe_mail WHERE sent_at >= ?3",
        params![address, domain, since],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
}

/// Counts one mail sent by subscribing.
pub fn note_subscribe_mail(
    conn: &Connection,
    address: &str,
    domain: &str,
    kind: &str,
    at: DateTime<Utc>,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO subscribe_mail (address, domain, kind, sent_at) VALUES (?1, ?2, ?3, ?4)",
        params![
            address,
            domain,
            kind,
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ],
    )?;
    Ok(())
}

impl Store {
    /// Mails sent by subscribing since `since` (see `subscribe_mail_since`).
    pub async fn subscribe_mail_since(
        &self,
        address: &str,
        domain: &str,
        since: DateTime<Utc>,
    ) -> anyhow::Result<(i64, i64, i64)> {
        let (a, d) = (address.to_string(), domain.to_string());
        self.call(move |c| subscribe_mail_since(c, &a, &d, since))
            .await
    }

    /// Counts one mail sent by subscribing.
    pub async fn note_subscribe_mail(
        &self,
        address: &str,
        domain: &str,
        kind: &'static str,
        at: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let (a, d) = (address.to_string(), domain.to_string());
        self.call(move |c| note_subscribe_mail(c, &a, &d, kind, at))
            .await
    }
}

/// The request with this token (compared in constant time with every stored one).
pub fn by_token(conn: &Connection, token: &str) -> rusqlite::Result<Option<JoinRequest>> {
    let mut stmt = conn.prepare(
        "SELECT token, email, fields, status, created_at, expires_at FROM join_requests",
    )?;
    let given = token.to_ascii_lowercase();
    let mut found = None;
    for row in stmt.query_map([], row)? {
        let r = row?;
        if constant_time_eq::constant_time_eq(r.token.as_bytes(), given.as_bytes()) {
            found = Some(r);
        }
    }
    Ok(found)
}

impl Store {
    /// The subscribe request with this token, if any.
    pub async fn join_request(&self, token: &str) -> anyhow::Result<Option<JoinRequest>> {
        let t = token.to_string();
        self.call(move |c| by_token(c, &t)).await
    }
}

fn row(r: &rusqlite::Row) -> rusqlite::Result<JoinRequest> {
    Ok(JoinRequest {
        token: r.get(0)?,
        email: r.get(1)?,
        fields: r.get(2)?,
        status: JoinStatus::from_column(r, 3)?,
        created_at: r.get(4)?,
        expires_at: r.get(5)?,
    })
}

/// Where a subscribe request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinStatus {
    /// Waiting for the reply to its confirmation.
    Pending,
    /// Confirmed by its address; waiting for the admin when approval is asked for.
    Confirmed,
    /// In the subscribers file.
    Added,
    /// Not confirmed in time.
    Expired,
}

impl std::fmt::Display for JoinStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl JoinStatus {
    /// The status stored in column `i` (the table's CHECK allows only the four).
    fn from_column(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<JoinStatus> {
        let text: String = row.get(i)?;
        [
            JoinStatus::Pending,
            JoinStatus::Confirmed,
            JoinStatus::Added,
            JoinStatus::Expired,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
        .ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                i,
                rusqlite::types::Type::Text,
                format!("`{text}` is not a subscribe request's status").into(),
            )
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            JoinStatus::Pending => "pending",
            JoinStatus::Confirmed => "confirmed",
            JoinStatus::Added => "added",
            JoinStatus::Expired => "expired",
        }
    }
}

pub fn set_status(conn: &Connection, token: &str, status: JoinStatus) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE join_requests SET status = ?2, confirmed_at = coalesce(confirmed_at, CASE WHEN ?2 = 'confirmed' THEN ?3 END) WHERE token = ?1",
        params![token, status.as_str(), now_utc()],
    )?;
    Ok(())
}

impl Store {
    /// Sets the status of the subscribe request with this token.
    pub async fn set_join_status(&self, token: &str, status: JoinStatus) -> anyhow::Result<()> {
        let t = token.to_string();
        self.call(move |c| set_status(c, &t, status)).await
    }
}

/// Confirmed requests waiting for the admin's approval, oldest first.
pub fn awaiting_approval(conn: &Connection) -> rusqlite::Result<Vec<JoinRequest>> {
    let mut stmt = conn.prepare(
        "SELECT token, email, fields, status, created_at, expires_at FROM join_requests
         WHERE status = 'confirmed' ORDER BY created_at",
    )?;
    let rows = stmt.query_map([], row)?;
    rows.collect()
}

impl Store {
    /// Confirmed subscribe requests waiting for the admin's approval, oldest first.
    pub fn join_requests_awaiting_approval(&self) -> anyhow::Result<Vec<JoinRequest>> {
        self.with(|c| awaiting_approval(c))
    }
}

/// The confirmed request of `email` awaiting approval, if any.
pub fn confirmed_for(conn: &Connection, email: &str) -> rusqlite::Result<Option<JoinRequest>> {
    conn.query_row(
        "SELECT token, email, fields, status, created_at, expires_at FROM join_requests
         WHERE email = ?1 AND status = 'confirmed' ORDER BY created_at DESC LIMIT 1",
        [email],
        row,
    )
    .optional()
}

impl Store {
    /// The confirmed subscribe request of `email` awaiting approval, if any.
    pub async fn confirmed_join_request(
        &self,
        email: &SubscriberEmail,
    ) -> anyhow::Result<Option<JoinRequest>> {
        let e = email.to_string();
        self.call(move |c| confirmed_for(c, &e)).await
    }
}
