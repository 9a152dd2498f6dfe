//! The title triage's decisions: for a paper and a reader profile, whether a full verdict is
//! worth asking for. Kept like verdicts (by paper, profile, model and triage prompt version), so
//! a re-run, or a new reader with a known profile, pays nothing for what is already decided.
//!
//! A day decides a pair for every reader and paper, so decisions are stored packed: the ones a
//! save makes (a reader's papers of a run) in one row of `triage_sets`, deflated, about 5 bytes a
//! decision. [`all`] lists them for reports and tests.

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
    /// The embedding prefilter of paperboy 0.2, which left papers out: where the
    /// paper stood among the reader's papers of the run (1 = nearest) and its cosine
    /// similarity to the reader's profile.
    Nearest { rank: u32, similarity: f32 },
    /// The embedding stage's place for the paper (it orders, never leaves out): its rank among
    /// the reader's papers of the run (1 = nearest), its best piece's cosine and its nearness
    /// (robust standard deviations above the day's median). Kept: sent straight to a verdict;
    /// not kept: left to the title triage.
    Placed {
        rank: u32,
        similarity: f32,
        nearness: f32,
    },
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Model => "model",
            Reason::Keyword => "keyword",
            Reason::NoAnswer => "no_answer",
            Reason::Nearest { .. } => "nearest",
            Reason::Placed { .. } => "placed",
        }
    }

    /// The stored number (the reason bits of a packed set).
    fn code(self) -> i64 {
        match self {
            Reason::Model => 0,
            Reason::Keyword => 1,
            Reason::NoAnswer => 2,
            Reason::Nearest { .. } => 3,
            Reason::Placed { .. } => 4,
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
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    pub kept: bool,
    pub reason: Reason,
}

/// Saves within the caller's transaction (if any), as one packed set. Decisions already
/// stored under `key` are kept as they are (the first decision stands).
pub fn save(
    conn: &Connection,
    key: &VerdictKey,
    decisions: &[(PaperId, Decision)],
    run_id: Option<i64>,
) -> rusqlite::Result<()> {
    if decisions.is_empty() {
        return Ok(());
    }
    let key_id = super::verdicts::ensure_key(conn, key)?;
    let ids: Vec<PaperId> = decisions.iter().map(|(id, _)| id.clone()).collect();
    let known = load_by_id(conn, key_id, &ids)?;
    let mut fresh: Vec<(&str, Decision)> = decisions
        .iter()
        .filter(|(id, _)| !known.contains_key(id))
        .map(|(id, d)| (id.as_str(), *d))
        .collect();
    fresh.sort_by(|a, b| a.0.cmp(b.0));
    fresh.dedup_by(|a, b| a.0 == b.0);
    insert_set(conn, key_id, run_id, &fresh)
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

/// Stored decisions for `ids` under `key`; a set that does not read back is logged and skipped.
pub fn load(
    conn: &Connection,
    key: &VerdictKey,
    ids: &[PaperId],
) -> rusqlite::Result<HashMap<PaperId, Decision>> {
    match super::verdicts::key_id(conn, key)? {
        Some(key_id) => load_by_id(conn, key_id, ids),
        None => Ok(HashMap::new()),
    }
}

fn load_by_id(
    conn: &Connection,
    key_id: i64,
    ids: &[PaperId],
) -> rusqlite::Result<HashMap<PaperId, Decision>> {
    let mut out = HashMap::new();
    let wanted: HashMap<&str, &PaperId> = ids.iter().map(|id| (id.as_str(), id)).collect();
    let (Some(lo), Some(hi)) = (wanted.keys().min(), wanted.keys().max()) else {
        return Ok(out);
    };
    // Only the sets whose id range meets the wanted one: a key's older days stay packed.
    let mut stmt = conn.prepare_cached(
        "SELECT id, packed FROM triage_sets
         WHERE key_id = ?1 AND last_paper >= ?2 AND first_paper <= ?3 ORDER BY id",
    )?;
    let mut rows = stmt.query(params![key_id, lo, hi])?;
    while let Some(r) = rows.next()? {
        let set_id: i64 = r.get(0)?;
        let packed: Vec<u8> = r.get(1)?;
        let decoded = match set::unpack(&packed) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(set = set_id, error = %e, "skipping a stored triage set that does not read back");
                continue;
            }
        };
        for (paper, d) in decoded {
            if let Some(id) = wanted.get(paper.as_str()) {
                out.entry((*id).clone()).or_insert(d);
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

/// One stored decision with its key, as [`all`] lists them.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub paper_id: String,
    pub key: VerdictKey,
    pub run_id: Option<i64>,
    pub decision: Decision,
}

/// Every stored decision, set by set (for reports and `sqlite3`-free inspection; the sets are
/// packed). A set that does not read back is an error here.
pub fn all(conn: &Connection) -> rusqlite::Result<Vec<Stored>> {
    let mut stmt = conn.prepare(
        "SELECT k.profile_hash, k.model, k.prompt_version, t.run_id, t.packed
         FROM triage_sets t JOIN score_keys k ON k.id = t.key_id ORDER BY t.id",
    )?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let key = VerdictKey {
            profile_hash: r.get(0)?,
            model: r.get(1)?,
            prompt_version: r.get(2)?,
        };
        let run_id: Option<i64> = r.get(3)?;
        let packed: Vec<u8> = r.get(4)?;
        let decoded = set::unpack(&packed).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(4, rusqlite::types::Type::Blob, Box::new(e))
        })?;
        out.extend(decoded.into_iter().map(|(paper_id, decision)| Stored {
            paper_id,
            key: key.clone(),
            run_id,
            decision,
        }));
    }
    Ok(out)
}

/// Moves the one-row-per-decision table of schema 18 into sets (migration 19's hook): one set
/// per key and run.
pub(super) fn migrate_pairs(conn: &Connection) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare(
        "SELECT key_id, run_id, paper_id, kept, reason, rank, similarity FROM triage_pairs
         ORDER BY key_id, run_id, paper_id",
    )?;
    let mut rows = stmt.query([])?;
    let mut group: Option<(i64, Option<i64>)> = None;
    let mut pending: Vec<(PaperId, Decision)> = Vec::new();
    let flush = |group: Option<(i64, Option<i64>)>, pending: &mut Vec<(PaperId, Decision)>| {
        let result = match group {
            Some((key_id, run_id)) => {
                let decisions: Vec<(&str, Decision)> =
                    pending.iter().map(|(id, d)| (id.as_str(), *d)).collect();
                insert_set(conn, key_id, run_id, &decisions)
            }
            None => Ok(()),
        };
        pending.clear();
        result
    };
    while let Some(r) = rows.next()? {
        let this = (r.get::<_, i64>(0)?, r.get::<_, Option<i64>>(1)?);
        if group != Some(this) {
            flush(group, &mut pending)?;
            group = Some(this);
        }
        let paper: String = r.get(2)?;
        let kept: i64 = r.get(3)?;
        let Some(reason) = Reason::parse(r.get(4)?, r.get(5)?, r.get(6)?) else {
            continue;
        };
        // Ids that no longer parse are dropped with their decision: it is only a cache.
        if let Ok(id) = PaperId::parse(&paper) {
            pending.push((
                id,
                Decision {
                    kept: kept != 0,
                    reason,
                },
            ));
        }
    }
    flush(group, &mut pending)?;
    conn.execute_batch("DROP VIEW triage; DROP TABLE triage_pairs; DROP TABLE triage_keys;")
}

/// One set of `decisions` (paper id, decision) under `key_id`; none is no set.
fn insert_set(
    conn: &Connection,
    key_id: i64,
    run_id: Option<i64>,
    decisions: &[(&str, Decision)],
) -> rusqlite::Result<()> {
    let ids = || decisions.iter().map(|(id, _)| *id);
    let (Some(first), Some(last)) = (ids().min(), ids().max()) else {
        return Ok(());
    };
    conn.prepare_cached(
        "INSERT INTO triage_sets (key_id, run_id, decisions, first_paper, last_paper, packed)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        key_id,
        run_id,
        decisions.len() as i64,
        first,
        last,
        set::pack(decisions.iter().copied())
    ])?;
    Ok(())
}

/// The packed form of a set: `PBT1`, then deflate of, per decision, the paper id, a NUL, one
/// byte (bit 0 kept, bits 1–7 the reason) and for the embedding stage the rank (u16, the last
/// one standing for any further) and the similarity in thousandths (i16: what `why` shows),
/// then for a place (reason 4) the nearness in hundredths (i16), little-endian.
mod set {
    use std::io::Write as _;

    use super::{Decision, Reason};

    const MAGIC: &[u8] = b"PBT1";

    pub fn pack<'a>(decisions: impl Iterator<Item = (&'a str, Decision)>) -> Vec<u8> {
        let mut raw = Vec::new();
        for (id, d) in decisions {
            raw.extend_from_slice(id.as_bytes());
            raw.push(0);
            raw.push(u8::from(d.kept) | (d.reason.code() as u8) << 1);
            match d.reason {
                Reason::Nearest { rank, similarity } => place(&mut raw, rank, similarity),
                Reason::Placed {
                    rank,
                    similarity,
                    nearness,
                } => {
                    place(&mut raw, rank, similarity);
                    let nearness = (f64::from(nearness) * 1e2)
                        .round()
                        .clamp(f64::from(i16::MIN), f64::from(i16::MAX))
                        as i16;
                    raw.extend_from_slice(&nearness.to_le_bytes());
                }
                _ => {}
            }
        }
        let mut out = MAGIC.to_vec();
        let mut z = flate2::write::DeflateEncoder::new(&mut out, flate2::Compression::best());
        z.write_all(&raw).expect("writing to memory cannot fail");
        z.finish().expect("writing to memory cannot fail");
        out
    }

    fn place(raw: &mut Vec<u8>, rank: u32, similarity: f32) {
        raw.extend_from_slice(&u16::try_from(rank).unwrap_or(u16::MAX).to_le_bytes());
        let similarity = (f64::from(similarity) * 1e3).round() as i16;
        raw.extend_from_slice(&similarity.to_le_bytes());
    }

    pub fn unpack(blob: &[u8]) -> std::io::Result<Vec<(String, Decision)>> {
        let bad =
            |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
        let deflated = blob
            .strip_prefix(MAGIC)
            .ok_or_else(|| bad("not a triage set (no PBT1 marker)"))?;
        let raw = crate::store::packed::read_at_most(
            flate2::read::DeflateDecoder::new(deflated),
            crate::store::packed::MAX_UNPACKED,
        )?;
        let mut out = Vec::new();
        let mut at = 0;
        while at < raw.len() {
            let end = raw[at..]
                .iter()
                .position(|&b| b == 0)
                .ok_or_else(|| bad("a paper id runs past the set"))?;
            let id = std::str::from_utf8(&raw[at..at + end])
                .map_err(|_| bad("a paper id is not UTF-8"))?
                .to_string();
            at += end + 1;
            let byte = *raw.get(at).ok_or_else(|| bad("a decision is cut short"))?;
            at += 1;
            let code = i64::from(byte >> 1);
            if code == 4 {
                let b: [u8; 6] = raw
                    .get(at..at + 6)
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| bad("a place is cut short"))?;
                at += 6;
                let reason = Reason::Placed {
                    rank: u32::from(u16::from_le_bytes([b[0], b[1]])),
                    similarity: f32::from(i16::from_le_bytes([b[2], b[3]])) / 1e3,
                    nearness: f32::from(i16::from_le_bytes([b[4], b[5]])) / 1e2,
                };
                out.push((
                    id,
                    Decision {
                        kept: byte & 1 == 1,
                        reason,
                    },
                ));
                continue;
            }
            let (rank, similarity) = if code == 3 {
                let place: [u8; 4] = raw
                    .get(at..at + 4)
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| bad("a rank and similarity are cut short"))?;
                at += 4;
                let rank = u16::from_le_bytes([place[0], place[1]]);
                let similarity = i16::from_le_bytes([place[2], place[3]]);
                (Some(i64::from(rank)), Some(i64::from(similarity) * 1000))
            } else {
                (None, None)
            };
            let reason =
                Reason::parse(code, rank, similarity).ok_or_else(|| bad("an unknown reason"))?;
            out.push((
                id,
                Decision {
                    kept: byte & 1 == 1,
                    reason,
                },
            ));
        }
        Ok(out)
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
            ..key.clone()
        };
        assert!(store
            .with(|c| load(c, &other, std::slice::from_ref(&a)))
            .unwrap()
            .is_empty());

        // A second save: what was decided stands, the new paper is added in a set of its own.
        let c_id = PaperId::parse("hep-th/9901001").unwrap();
        let near = Decision {
            kept: false,
            reason: Reason::Nearest {
                rank: 70_000,
                similarity: -0.4321,
            },
        };
        let changed = Decision {
            kept: true,
            reason: Reason::NoAnswer,
        };
        store
            .with(|c| {
                save(
                    c,
                    &key,
                    &[(a.clone(), changed), (c_id.clone(), near)],
                    Some(7),
                )
            })
            .unwrap();
        let got = store
            .with(|c| load(c, &key, &[a.clone(), b.clone(), c_id.clone()]))
            .unwrap();
        assert_eq!(got.get(&a), Some(&dropped), "the first decision stands");
        match got.get(&c_id).map(|d| d.reason) {
            Some(Reason::Nearest { rank, similarity }) => {
                assert_eq!(
                    rank,
                    u32::from(u16::MAX),
                    "ranks past 65,535 read as the last"
                );
                assert!((similarity + 0.432).abs() < 1e-6, "{similarity}");
            }
            other => panic!("{other:?}"),
        }
        let listed = store.with(|c| all(c)).unwrap();
        assert_eq!(listed.len(), 3);
        assert_eq!(listed[2].run_id, Some(7));
        assert_eq!(listed[2].key, key);

        // A set that does not read back is skipped with a warning; the others still answer.
        store
            .with(|c| {
                c.execute(
                    "UPDATE triage_sets SET packed = x'50425431ff' WHERE run_id = 7",
                    [],
                )
            })
            .unwrap();
        let got = store
            .with(|c| load(c, &key, &[a.clone(), c_id.clone()]))
            .unwrap();
        assert_eq!(got.get(&a), Some(&dropped));
        assert!(!got.contains_key(&c_id));
        assert!(
            store.with(|c| all(c)).is_err(),
            "listing them all says it cannot"
        );
    }

    #[test]
    fn a_lookup_finds_decisions_in_every_set_whose_id_range_meets_the_wanted_ids() {
        let store = Store::open_in_memory().unwrap();
        let key = VerdictKey {
            profile_hash: "p1".into(),
            model: "m".into(),
            prompt_version: "t1".into(),
        };
        let decided = |kept: bool, ids: &[&str]| -> Vec<(PaperId, Decision)> {
            let d = Decision {
                kept,
                reason: Reason::Model,
            };
            ids.iter()
                .map(|i| (PaperId::parse(i).unwrap(), d))
                .collect()
        };
        // One set spans the other (a cross-list from an older month, a newer paper).
        store
            .with(|c| {
                save(
                    c,
                    &key,
                    &decided(true, &["2503.00001", "2505.00001"]),
                    Some(1),
                )
            })
            .unwrap();
        store
            .with(|c| {
                save(
                    c,
                    &key,
                    &decided(false, &["2504.00001", "2504.00005"]),
                    Some(2),
                )
            })
            .unwrap();
        store
            .with(|c| save(c, &key, &decided(false, &["2502.00001"]), Some(3)))
            .unwrap();
        let ids: Vec<PaperId> = ["2504.00005", "2505.00001", "2504.00003"]
            .iter()
            .map(|i| PaperId::parse(i).unwrap())
            .collect();
        let got = store.with(|c| load(c, &key, &ids)).unwrap();
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(!got[&ids[0]].kept);
        assert!(got[&ids[1]].kept);
    }
}
