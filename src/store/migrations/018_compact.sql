-- A day for 100 readers left 11 MB: most of it the digests' exact bytes and every reader-paper
-- decision of the triage. Messages are now stored deflated (`PBZ1` + deflate, in `message`),
-- pages deflated in `page_z` (older rows keep `page`); the triage is clustered by its key
-- (WITHOUT ROWID), which drops the second copy of the key in a separate index.
ALTER TABLE deliveries ADD COLUMN page_z BLOB;

CREATE TABLE triage_new (
    paper_id       TEXT NOT NULL REFERENCES papers(id),
    profile_hash   TEXT NOT NULL,
    model          TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    kept           INTEGER NOT NULL CHECK (kept IN (0, 1)),
    reason         TEXT NOT NULL CHECK (reason IN ('model', 'keyword', 'no_answer', 'nearest')),
    run_id         INTEGER,
    created_at     TEXT NOT NULL,
    rank           INTEGER,
    similarity     REAL,
    PRIMARY KEY (paper_id, profile_hash, model, prompt_version)
) STRICT, WITHOUT ROWID;
INSERT INTO triage_new SELECT paper_id, profile_hash, model, prompt_version, kept, reason, run_id,
    created_at, rank, similarity FROM triage;
DROP TABLE triage;
ALTER TABLE triage_new RENAME TO triage;
