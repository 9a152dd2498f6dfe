-- A day for 100 readers left 11 MB: most of it the digests' exact bytes and every reader-paper
-- decision of the triage. Messages are now stored deflated (`PBZ1` + deflate, in `message`),
-- pages deflated in `page_z` (older rows keep `page`).
ALTER TABLE deliveries ADD COLUMN page_z BLOB;

-- The triage's decisions, one per reader profile and paper, small: the long key (profile hash,
-- model, prompt version) once in `triage_keys`, the reason as a number, the similarity in
-- millionths, clustered by key and paper (WITHOUT ROWID: no second copy of the key in an index).
CREATE TABLE triage_keys (
    id             INTEGER PRIMARY KEY,
    profile_hash   TEXT NOT NULL,
    model          TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    UNIQUE (profile_hash, model, prompt_version)
) STRICT;
CREATE TABLE triage_pairs (
    key_id     INTEGER NOT NULL REFERENCES triage_keys(id),
    paper_id   TEXT NOT NULL REFERENCES papers(id),
    kept       INTEGER NOT NULL CHECK (kept IN (0, 1)),
    reason     INTEGER NOT NULL CHECK (reason BETWEEN 0 AND 3),  -- model, keyword, no_answer, nearest
    run_id     INTEGER,
    rank       INTEGER,                 -- nearest: 1 = the reader's nearest paper of the run
    similarity INTEGER,                 -- nearest: cosine × 1,000,000
    PRIMARY KEY (key_id, paper_id)
) STRICT, WITHOUT ROWID;
INSERT INTO triage_keys (profile_hash, model, prompt_version)
    SELECT DISTINCT profile_hash, model, prompt_version FROM triage;
INSERT INTO triage_pairs
    SELECT k.id, t.paper_id, t.kept,
           CASE t.reason WHEN 'model' THEN 0 WHEN 'keyword' THEN 1 WHEN 'no_answer' THEN 2 ELSE 3 END,
           t.run_id, t.rank, CAST(round(t.similarity * 1000000) AS INTEGER)
    FROM triage t JOIN triage_keys k USING (profile_hash, model, prompt_version);
DROP TABLE triage;

-- The decisions as they read: for `sqlite3` sessions and reports.
CREATE VIEW triage AS
    SELECT t.paper_id, k.profile_hash, k.model, k.prompt_version, t.kept,
           CASE t.reason WHEN 0 THEN 'model' WHEN 1 THEN 'keyword' WHEN 2 THEN 'no_answer' ELSE 'nearest' END AS reason,
           t.run_id, t.rank, t.similarity / 1000000.0 AS similarity
    FROM triage_pairs t JOIN triage_keys k ON k.id = t.key_id;

-- A day's sent digests, compressed together once they are sent: they share their template and
-- many papers, so one bundle is a seventh of the messages deflated one by one. Each delivery's
-- `message` then holds a reference into its bundle (`PBB1`, bundle id, offset, length).
CREATE TABLE mail_bundles (
    id      INTEGER PRIMARY KEY,
    day     TEXT NOT NULL,
    bundle  BLOB NOT NULL,          -- zstd of the messages, one after another
    created_at TEXT NOT NULL
) STRICT;
CREATE INDEX mail_bundles_day ON mail_bundles(day);
