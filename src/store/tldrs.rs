//! A paper's TL;DR per language, written once for the whole group (keyed by model and TL;DR
//! prompt version, like verdicts), and reused by every reader, the archive and the feed.

use std::collections::HashMap;

use rusqlite::params;

use super::{now_utc, Store};
use crate::domain::PaperId;

/// Which TL;DRs: the model and prompt that write them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TldrKey {
    pub model: String,
    pub prompt_version: String,
}

impl Store {
    /// The stored TL;DRs of `wanted` (paper, language name) under `key`.
    pub async fn tldrs(
        &self,
        key: &TldrKey,
        wanted: Vec<(PaperId, String)>,
    ) -> anyhow::Result<HashMap<(PaperId, String), String>> {
        let key = key.clone();
        self.call(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT text FROM tldrs
                 WHERE paper_id = ?1 AND language = ?2 AND model = ?3 AND prompt_version = ?4",
            )?;
            let mut out = HashMap::new();
            for (id, language) in wanted {
                let mut rows = stmt.query(params![
                    id.as_str(),
                    language,
                    key.model,
                    key.prompt_version
                ])?;
                if let Some(r) = rows.next()? {
                    out.insert((id, language), r.get::<_, String>(0)?);
                }
            }
            Ok(out)
        })
        .await
    }
}

/// Saves TL;DRs (paper, language name, text) within the caller's transaction.
pub fn save(
    conn: &rusqlite::Connection,
    key: &TldrKey,
    tldrs: &[(PaperId, String, String)],
    run_id: Option<i64>,
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO tldrs (paper_id, language, model, prompt_version, text, run_id, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
    )?;
    let now = now_utc();
    for (id, language, text) in tldrs {
        stmt.execute(params![
            id.as_str(),
            language,
            key.model,
            key.prompt_version,
            text,
            run_id,
            now
        ])?;
    }
    Ok(())
}
