//! Vectors from the embedding endpoint, by model and text hash: a paper's title and abstract,
//! or one piece of a reader's profile, each embedded once whoever needs it.

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

fn to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn from_blob(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
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
            out.insert(h.clone(), from_blob(&blob));
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
        assert_eq!(got["h1"], v);
        assert!(store
            .vectors("other", vec!["h1".into()])
            .await
            .unwrap()
            .is_empty());
    }
}
