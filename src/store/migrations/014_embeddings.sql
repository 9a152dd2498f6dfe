-- Issue 19: the embedding stage, the prefilter's decisions with their rank and similarity, and
-- a TL;DR per paper and language (written once for the whole group).
CREATE TABLE triage_new (
    paper_id       TEXT NOT NULL REFERENCES papers(id),
    profile_hash   TEXT NOT NULL,
    model          TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    kept           INTEGER NOT NULL CHECK (kept IN (0, 1)),
    -- why: 'model' (the title triage's answer), 'keyword' (the reader's keyword is in title or
    -- abstract), 'no_answer' (the model gave none after re-asking: kept, to lose nothing),
    -- 'nearest' (the embedding prefilter: `rank` and `similarity` say where the paper stood)
    reason         TEXT NOT NULL CHECK (reason IN ('model', 'keyword', 'no_answer', 'nearest')),
    run_id         INTEGER,
    created_at     TEXT NOT NULL,
    rank           INTEGER,                 -- 1 = the reader's nearest paper of the day
    similarity     REAL,                    -- cosine similarity to the reader's profile
    PRIMARY KEY (paper_id, profile_hash, model, prompt_version),
    CHECK ((reason = 'nearest') = (rank IS NOT NULL AND similarity IS NOT NULL))
) STRICT;
INSERT INTO triage_new (paper_id, profile_hash, model, prompt_version, kept, reason, run_id, created_at)
    SELECT paper_id, profile_hash, model, prompt_version, kept, reason, run_id, created_at FROM triage;
DROP TABLE triage;
ALTER TABLE triage_new RENAME TO triage;

-- A text's vector under one embedding model: a paper's title and abstract, or one piece of a
-- reader's profile. Keyed by the text's hash, so a text is embedded once whoever needs it.
CREATE TABLE embeddings (
    model      TEXT NOT NULL,
    text_hash  TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('paper', 'profile')),
    dims       INTEGER NOT NULL CHECK (dims > 0),
    vector     BLOB NOT NULL CHECK (length(vector) = 4 * dims),   -- little-endian f32, unit length
    created_at TEXT NOT NULL,
    PRIMARY KEY (model, text_hash)
) STRICT;

-- A paper's TL;DR in one language, shared by every reader, the archive and the feed.
CREATE TABLE tldrs (
    paper_id       TEXT NOT NULL REFERENCES papers(id),
    language       TEXT NOT NULL,
    model          TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    text           TEXT NOT NULL,
    run_id         INTEGER,
    created_at     TEXT NOT NULL,
    PRIMARY KEY (paper_id, language, model, prompt_version)
) STRICT;
