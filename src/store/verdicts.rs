use std::collections::HashMap;

use rusqlite::{params, Connection};

use super::spend::{self, SpendRow};
use super::triage::{self, Decision};
use super::Store;
use crate::domain::{PaperId, Score, Verdict};

/// The cache key of a verdict besides the paper.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VerdictKey {
    pub profile_hash: String,
    pub model: String,
    pub prompt_version: String,
}

/// The number `key` is stored under (`score_keys`), once something was saved with it.
pub(super) fn key_id(conn: &Connection, key: &VerdictKey) -> rusqlite::Result<Option<i64>> {
    use rusqlite::OptionalExtension as _;
    conn.prepare_cached(
        "SELECT id FROM score_keys WHERE profile_hash = ?1 AND model = ?2 AND prompt_version = ?3",
    )?
    .query_row(
        params![key.profile_hash, key.model, key.prompt_version],
        |r| r.get(0),
    )
    .optional()
}

/// The number `key` is stored under, given one if it has none yet.
pub(super) fn ensure_key(conn: &Connection, key: &VerdictKey) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "INSERT INTO score_keys (profile_hash, model, prompt_version) VALUES (?1, ?2, ?3)
         ON CONFLICT DO NOTHING",
    )?
    .execute(params![key.profile_hash, key.model, key.prompt_version])?;
    key_id(conn, key)?.ok_or(rusqlite::Error::QueryReturnedNoRows)
}

/// Saves within the caller's transaction (if any).
pub fn save(
    conn: &Connection,
    key: &VerdictKey,
    verdicts: &[(PaperId, Verdict)],
    run_id: Option<i64>,
) -> rusqlite::Result<()> {
    if verdicts.is_empty() {
        return Ok(());
    }
    let key_id = ensure_key(conn, key)?;
    let mut stmt = conn.prepare_cached(
        "INSERT INTO verdict_rows (key_id, paper_id, relevance, novelty, comment, tldr, run_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT DO NOTHING",
    )?;
    for (id, v) in verdicts {
        stmt.execute(params![
            key_id,
            id.as_str(),
            v.relevance.get(),
            v.novelty.map(Score::get),
            v.comment,
            v.tldr,
            run_id
        ])?;
    }
    Ok(())
}

impl Store {
    /// Saves the `verdicts` made under `key` in run `run_id`, in one transaction.
    pub async fn save_verdicts(
        &self,
        key: &VerdictKey,
        verdicts: Vec<(PaperId, Verdict)>,
        run_id: i64,
    ) -> anyhow::Result<()> {
        let key = key.clone();
        self.call(move |c| {
            let tx = c.transaction()?;
            save(&tx, &key, &verdicts, Some(run_id))?;
            tx.commit()
        })
        .await
    }
}

/// TL;DRs (paper, language name, text) under their key.
pub type TldrRows = (super::tldrs::TldrKey, Vec<(PaperId, String, String)>);

/// What a paid scoring call decided, per reader key: saved with the call's ledger rows.
#[derive(Debug, Clone)]
pub enum Decided {
    /// Title triage decisions.
    Triage(Vec<(VerdictKey, Vec<(PaperId, Decision)>)>),
    /// Full verdicts, with the TL;DRs (paper, language name, text) the same answer wrote.
    Verdicts(Vec<(VerdictKey, Vec<(PaperId, Verdict)>)>, Option<TldrRows>),
    /// TL;DRs (paper, language name, text).
    Tldrs(TldrRows),
    /// Vectors from the embedding endpoint (text hash, vector) under a model.
    Vectors {
        model: String,
        kind: super::embeddings::VectorKind,
        vectors: Vec<(String, Vec<f32>)>,
    },
}

impl Store {
    /// Records a paid call's ledger `rows` and what it `decided` in run `run_id` in one
    /// transaction: a crash never keeps a paid answer without its record, or the reverse.
    pub async fn record_paid_call(
        &self,
        rows: Vec<SpendRow>,
        decided: Decided,
        run_id: i64,
    ) -> anyhow::Result<()> {
        self.call(move |c| {
            let tx = c.transaction()?;
            for row in &rows {
                spend::record(&tx, row)?;
            }
            match &decided {
                Decided::Triage(saves) => {
                    for (key, d) in saves {
                        triage::save(&tx, key, d, Some(run_id))?;
                    }
                }
                Decided::Verdicts(saves, tldrs) => {
                    for (key, v) in saves {
                        save(&tx, key, v, Some(run_id))?;
                    }
                    if let Some((key, tldrs)) = tldrs {
                        super::tldrs::save(&tx, key, tldrs, Some(run_id))?;
                    }
                }
                Decided::Tldrs((key, tldrs)) => {
                    super::tldrs::save(&tx, key, tldrs, Some(run_id))?;
                }
                Decided::Vectors {
                    model,
                    kind,
                    vectors,
                } => super::embeddings::save(&tx, model, *kind, vectors)?,
            }
            tx.commit()
        })
        .await
    }
}

/// Stored verdicts for `ids` under `key`. Rows whose scores are out of range are logged and skipped.
pub fn load(
    conn: &Connection,
    key: &VerdictKey,
    ids: &[PaperId],
) -> rusqlite::Result<HashMap<PaperId, Verdict>> {
    let mut out = HashMap::new();
    let Some(key_id) = key_id(conn, key)? else {
        return Ok(out);
    };
    let mut stmt = conn.prepare_cached(
        "SELECT relevance, novelty, comment, tldr FROM verdict_rows
         WHERE key_id = ?1 AND paper_id = ?2",
    )?;
    for id in ids {
        let row = stmt
            .query_row(params![key_id, id.as_str()], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                ))
            })
            .map(Some)
            .or_else(|e| {
                if e == rusqlite::Error::QueryReturnedNoRows {
                    Ok(None)
                } else {
                    Err(e)
                }
            })?;
        let Some((relevance, novelty, comment, tldr)) = row else {
            continue;
        };
        let verdict = Score::new(relevance).ok().and_then(|relevance| {
            let novelty = match novelty {
                Some(n) => Some(Score::new(n).ok()?),
                None => None,
            };
            Some(Verdict {
                relevance,
                novelty,
                comment,
                tldr,
            })
        });
        match verdict {
            Some(v) => {
                out.insert(id.clone(), v);
            }
            None => {
                tracing::warn!(paper = %id, "skipping a stored verdict with scores outside 1–10")
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn verdicts_are_cached_per_profile_model_and_prompt() {
        let store = Store::open_in_memory().unwrap();
        let id = PaperId::parse("2503.21135").unwrap();
        store
            .with(|c| {
                c.execute(
                    "INSERT INTO papers (id, version, title, authors, abstract, categories, first_seen, updated_at)
                     VALUES ('2503.21135', 1, 't', '[]', 'a', '[]', 'x', 'x')",
                    [],
                )
            })
            .unwrap();
        let key = VerdictKey {
            profile_hash: "p1".into(),
            model: "gpt-4o-mini".into(),
            prompt_version: "v1".into(),
        };
        let v = Verdict {
            relevance: Score::new(9).unwrap(),
            novelty: Some(Score::new(7).unwrap()),
            comment: "MoE".into(),
            tldr: Some("Kurz: MoE.".into()),
        };
        store
            .with(|c| save(c, &key, &[(id.clone(), v.clone())], None))
            .unwrap();
        assert_eq!(
            store
                .with(|c| load(c, &key, std::slice::from_ref(&id)))
                .unwrap()
                .get(&id),
            Some(&v)
        );
        let other = VerdictKey {
            model: "gpt-4o".into(),
            ..key.clone()
        };
        assert!(store
            .with(|c| load(c, &other, std::slice::from_ref(&id)))
            .unwrap()
            .is_empty());
    }
}
