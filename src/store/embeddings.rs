//! Vectors from the embedding endpoint, by model and text hash: a paper's title and abstract,
//! or one piece of a reader's profile, each embedded once whoever needs it.
//!
//! Stored as 8-bit integers with one scale per vector (a quarter of f32; a cosine moves by about
//! 0.001). Vectors fresh from the endpoint go through [`as_stored`] before use, so a run that
//! embeds and a run that reads back rank alike.

use std::collections::HashMap;

use rusqlite::{params, Connection};

use super::{now_utc, Store};

/// What a vector stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VectorKind {
    Paper,
    Profile,
}

impl VectorKind {
    fn as_str(self) -> &'static str {
        match self {
            VectorKind::Paper => "paper",
            VectorKind::Profile => "profile",
        }
    }
}

/// The stored form: the scale (f32, little-endian), then each component over the scale,
/// rounded to an i8.
fn to_blob(v: &[f32]) -> Vec<u8> {
    let largest = v.iter().fold(0f32, |m, x| m.max(x.abs()));
    let scale = if largest > 0.0 && largest.is_finite() {
        largest / 127.0
    } else {
        0.0
    };
    let mut out = Vec::with_capacity(4 + v.len());
    out.extend_from_slice(&scale.to_le_bytes());
    out.extend(v.iter().map(|x| {
        let q = if scale > 0.0 {
            (x / scale).round()
        } else {
            0.0
        };
        q.clamp(-127.0, 127.0) as i8 as u8
    }));
    out
}

/// A stored vector back as unit-length f32 (`None`: too short to hold a scale).
fn from_blob(b: &[u8]) -> Option<Vec<f32>> {
    let (scale, q) = b.split_first_chunk::<4>()?;
    let scale = f32::from_le_bytes(*scale);
    Some(crate::domain::vector::unit(
        q.iter().map(|&c| f32::from(c as i8) * scale).collect(),
    ))
}

/// `v` as it reads back once stored.
pub fn as_stored(v: &[f32]) -> Vec<f32> {
    from_blob(&to_blob(v)).unwrap_or_default()
}

/// Moves schema 18's f32 vectors into the quantized table (migration 19's hook).
pub(super) fn migrate_f32(conn: &Connection) -> rusqlite::Result<()> {
    {
        let mut read = conn
            .prepare("SELECT model, text_hash, kind, dims, vector, created_at FROM embeddings")?;
        let mut write = conn.prepare(
            "INSERT INTO embeddings_q (model, text_hash, kind, dims, vector, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let mut rows = read.query([])?;
        while let Some(r) = rows.next()? {
            let f32s: Vec<u8> = r.get(4)?;
            let v: Vec<f32> = f32s
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            write.execute(params![
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                v.len() as i64,
                to_blob(&v),
                r.get::<_, String>(5)?
            ])?;
        }
    }
    conn.execute_batch("DROP TABLE embeddings; ALTER TABLE embeddings_q RENAME TO embeddings;")
}

impl Store {
    /// The stored vectors under `model` of the texts hashed `hashes` (missing ones are absent).
    pub async fn vectors(
        &self,
        model: &str,
        hashes: Vec<String>,
    ) -> anyhow::Result<HashMap<String, Vec<f32>>> {
        let model = model.to_string();
        self.call(move |c| load(c, &model, &hashes)).await
    }

    /// Stores `vectors` (text hash → vector) under `model`; a text already stored keeps its
    /// vector.
    pub async fn save_vectors(
        &self,
        model: &str,
        kind: VectorKind,
        vectors: Vec<(String, Vec<f32>)>,
    ) -> anyhow::Result<()> {
        let model = model.to_string();
        self.call(move |c| {
            let tx = c.unchecked_transaction()?;
            save(&tx, &model, kind, &vectors)?;
            tx.commit()
        })
        .await
    }
}

/// Saves `vectors` within the caller's transaction.
pub fn save(
    conn: &Connection,
    model: &str,
    kind: VectorKind,
    vectors: &[(String, Vec<f32>)],
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO embeddings (model, text_hash, kind, dims, vector, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
    )?;
    let now = now_utc();
    for (hash, v) in vectors {
        stmt.execute(params![
            model,
            hash,
            kind.as_str(),
            v.len() as i64,
            to_blob(v),
            now
        ])?;
    }
    Ok(())
}

fn load(
    conn: &Connection,
    model: &str,
    hashes: &[String],
) -> rusqlite::Result<HashMap<String, Vec<f32>>> {
    let mut stmt =
        conn.prepare_cached("SELECT vector FROM embeddings WHERE model = ?1 AND text_hash = ?2")?;
    let mut out = HashMap::new();
    for h in hashes {
        let mut rows = stmt.query(params![model, h])?;
        if let Some(r) = rows.next()? {
            let blob: Vec<u8> = r.get(0)?;
            match from_blob(&blob) {
                Some(v) => {
                    out.insert(h.clone(), v);
                }
                // A cache: the text is embedded again.
                None => {
                    tracing::warn!(text_hash = %h, "skipping a stored vector that does not read back")
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_vector_reads_back_as_stored_and_is_kept_once() {
        let store = Store::open_in_memory().unwrap();
        let v = vec![0.6f32, -0.8, 0.0];
        let stored = as_stored(&v);
        assert!(
            v.iter().zip(&stored).all(|(a, b)| (a - b).abs() < 0.01),
            "{stored:?}"
        );
        assert!(
            as_stored(&stored)
                .iter()
                .zip(&stored)
                .all(|(a, b)| (a - b).abs() < 1e-6),
            "storing again changes nothing"
        );
        store
            .save_vectors("m", VectorKind::Paper, vec![("h1".into(), v.clone())])
            .await
            .unwrap();
        store
            .save_vectors(
                "m",
                VectorKind::Paper,
                vec![("h1".into(), vec![1.0, 0.0, 0.0])],
            )
            .await
            .unwrap();
        let got = store
            .vectors("m", vec!["h1".into(), "h2".into()])
            .await
            .unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got["h1"], stored);
        assert!(store
            .vectors("other", vec!["h1".into()])
            .await
            .unwrap()
            .is_empty());
    }
}
