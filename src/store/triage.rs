//! The title triage's decisions: for a paper and a reader profile, whether a full verdict is
//! worth asking for. Kept like verdicts (by paper, profile, model and triage prompt version), so
//! a re-run, or a new reader with a known profile, pays nothing for what is already decided.

use std::collections::HashMap;

use rusqlite::{params, Connection};

use super::verdicts::VerdictKey;
use super::Store;
use crate::domain::PaperId;

/// Why a pair was kept or dropped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reason {
    /// The model's answer.
    Model,
    /// One of the reader's keywords is in the title or abstract: kept without asking.
    Keyword,
    /// The model gave no usable answer for the paper after re-asking: kept, to lose nothing.
    NoAnswer,
    /// The embedding prefilter: where the paper stood among the reader's papers of the run
    /// (1 = nearest) and its cosine similarity to the reader's profile.
    Nearest { rank: u32, similarity: f32 },
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Model => "model",
            Reason::Keyword => "keyword",
            Reason::NoAnswer => "no_answer",
            Reason::Nearest { .. } => "nearest",
        }
    }

    /// The stored number (`triage_pairs.reason`).
    fn code(self) -> i64 {
        match self {
            Reason::Model => 0,
            Reason::Keyword => 1,
            Reason::NoAnswer => 2,
            Reason::Nearest { .. } => 3,
        }
    }

    fn parse(code: i64, rank: Option<i64>, similarity: Option<i64>) -> Option<Reason> {
        Some(match code {
            0 => Reason::Model,
            1 => Reason::Keyword,
            2 => Reason::NoAnswer,
            3 => Reason::Nearest {
                rank: u32::try_from(rank?).ok()?,
                similarity: similarity? as f32 / 1e6,
            },
            _ => return None,
        })
    }

    /// The rank and similarity columns (similarity in millionths).
    fn place(self) -> (Option<i64>, Option<i64>) {
        match self {
            Reason::Nearest { rank, similarity } => (
                Some(rank as i64),
                Some((f64::from(similarity) * 1e6).round() as i64),
            ),
            _ => (None, None),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    pub kept: bool,
    pub reason: Reason,
}

/// Saves within the caller's transaction (if any).
pub fn save(
    conn: &Connection,
    key: &VerdictKey,
    decisions: &[(PaperId, Decision)],
    run_id: Option<i64>,
) -> rusqlite::Result<()> {
    if decisions.is_empty() {
        return Ok(());
    }
    conn.prepare_cached(
        "INSERT INTO triage_keys (profile_hash, model, prompt_version) VALUES (?1, ?2, ?3)
         ON CONFLICT DO NOTHING",
    )?
    .execute(params![key.profile_hash, key.model, key.prompt_version])?;
    let Some(key_id) = key_id(conn, key)? else {
        return Ok(());
    };
    let mut stmt = conn.prepare_cached(
        "INSERT INTO triage_pairs (key_id, paper_id, kept, reason, run_id, rank, similarity)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT DO NOTHING",
    )?;
    for (id, d) in decisions {
        let (rank, similarity) = d.reason.place();
        stmt.execute(params![
            key_id,
            id.as_str(),
            d.kept as i64,
            d.reason.code(),
            run_id,
            rank,
            similarity
        ])?;
    }
    Ok(())
}

/// The number `key` is stored under, once a decision was saved with it.
fn key_id(conn: &Connection, key: &VerdictKey) -> rusqlite::Result<Option<i64>> {
    use rusqlite::OptionalExtension as _;
    conn.prepare_cached(
        "SELECT id FROM triage_keys WHERE profile_hash = ?1 AND model = ?2 AND prompt_version = ?3",
    )?
    .query_row(
        params![key.profile_hash, key.model, key.prompt_version],
        |r| r.get(0),
    )
    .optional()
}

impl Store {
    /// Saves the triage `decisions` made under `key` in run `run_id`.
    pub async fn save_triage(
        &self,
        key: &VerdictKey,
        decisions: Vec<(PaperId, Decision)>,
        run_id: i64,
    ) -> anyhow::Result<()> {
        let key = key.clone();
        self.call(move |c| save(c, &key, &decisions, Some(run_id)))
            .await
    }
}

/// Stored decisions for `ids` under `key`; rows that do not read back are logged and skipped.
pub fn load(
    conn: &Connection,
    key: &VerdictKey,
    ids: &[PaperId],
) -> rusqlite::Result<HashMap<PaperId, Decision>> {
    let mut out = HashMap::new();
    let Some(key_id) = key_id(conn, key)? else {
        return Ok(out);
    };
    let mut stmt = conn.prepare_cached(
        "SELECT kept, reason, rank, similarity FROM triage_pairs WHERE key_id = ?1 AND paper_id = ?2",
    )?;
    for id in ids {
        let mut rows = stmt.query(params![key_id, id.as_str()])?;
        if let Some(r) = rows.next()? {
            let kept: i64 = r.get(0)?;
            let reason: i64 = r.get(1)?;
            match Reason::parse(reason, r.get(2)?, r.get(3)?) {
                Some(reason) => {
                    out.insert(
                        id.clone(),
                        Decision {
                            kept: kept != 0,
                            reason,
                        },
                    );
                }
                None => {
                    tracing::warn!(paper = %id, %reason, "skipping a stored triage decision with an unknown reason")
                }
            }
        }
    }
    Ok(out)
}

impl Store {
    /// Stored triage decisions for `ids` under `key`.
    pub async fn triage_decisions(
        &self,
        key: &VerdictKey,
        ids: Vec<PaperId>,
    ) -> anyhow::Result<HashMap<PaperId, Decision>> {
        let key = key.clone();
        self.call(move |c| load(c, &key, &ids)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn decisions_are_kept_per_profile_and_read_back() {
        let store = Store::open_in_memory().unwrap();
        store
            .with(|c| {
                c.execute(
                    "INSERT INTO papers (id, version, title, authors, abstract, categories, first_seen, updated_at)
                     VALUES ('2503.21135', 1, 't', '[]', 'a', '[]', 'x', 'x'), ('2503.21536', 1, 't', '[]', 'a', '[]', 'x', 'x')",
                    [],
                )
            })
            .unwrap();
        let (a, b) = (
            PaperId::parse("2503.21135").unwrap(),
            PaperId::parse("2503.21536").unwrap(),
        );
        let key = VerdictKey {
            profile_hash: "p1".into(),
            model: "gpt-4o".into(),
            prompt_version: "t1".into(),
        };
        let dropped = Decision {
            kept: false,
            reason: Reason::Model,
        };
        let kept = Decision {
            kept: true,
            reason: Reason::Keyword,
        };
        store
            .with(|c| save(c, &key, &[(a.clone(), dropped), (b.clone(), kept)], None))
            .unwrap();
        let got = store
            .with(|c| load(c, &key, &[a.clone(), b.clone()]))
            .unwrap();
        assert_eq!(got.get(&a), Some(&dropped));
        assert_eq!(got.get(&b), Some(&kept));
        let other = VerdictKey {
            profile_hash: "p2".into(),
            ..key
        };
        assert!(store.with(|c| load(c, &other, &[a])).unwrap().is_empty());
    }
}
