-- A day for 100 readers still took 3.35 MB (1.5 is the goal): every triage decision a row, each
-- verdict with its long key twice (row and index), vectors as f32, abstracts in the clear.
-- Rust code in the migration's hook (`store::migrations()`: `triage::migrate_pairs`,
-- `embeddings::migrate_f32`, `papers::migrate_abstracts`) fills what SQL cannot: the packed triage sets, the quantized vectors, the deflated abstracts.

-- The key of a verdict or a triage decision besides the paper (profile hash, model, prompt
-- version), stored once and shared. Triage keys keep their numbers.
CREATE TABLE score_keys (
    id             INTEGER PRIMARY KEY,
    profile_hash   TEXT NOT NULL,
    model          TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    UNIQUE (profile_hash, model, prompt_version)
) STRICT;
INSERT INTO score_keys (id, profile_hash, model, prompt_version)
    SELECT id, profile_hash, model, prompt_version FROM triage_keys;
INSERT OR IGNORE INTO score_keys (profile_hash, model, prompt_version)
    SELECT DISTINCT profile_hash, model, prompt_version FROM verdicts;

-- Verdicts clustered by key and paper (WITHOUT ROWID: no second copy of the key in an index).
-- The time of a verdict is its run's.
CREATE TABLE verdict_rows (
    key_id    INTEGER NOT NULL REFERENCES score_keys(id),
    paper_id  TEXT NOT NULL REFERENCES papers(id),
    relevance INTEGER NOT NULL CHECK (relevance BETWEEN 1 AND 10),
    novelty   INTEGER CHECK (novelty BETWEEN 1 AND 10),
    comment   TEXT NOT NULL,
    tldr      TEXT,
    run_id    INTEGER,
    PRIMARY KEY (key_id, paper_id)
) STRICT, WITHOUT ROWID;
INSERT INTO verdict_rows (key_id, paper_id, relevance, novelty, comment, tldr, run_id)
    SELECT k.id, v.paper_id, v.relevance, v.novelty, v.comment, v.tldr, v.run_id
    FROM verdicts v JOIN score_keys k USING (profile_hash, model, prompt_version);
DROP TABLE verdicts;
-- The verdicts as they read, for `sqlite3` sessions and reports.
CREATE VIEW verdicts AS
    SELECT v.paper_id, k.profile_hash, k.model, k.prompt_version, v.relevance, v.novelty,
           v.comment, v.tldr, v.run_id
    FROM verdict_rows v JOIN score_keys k ON k.id = v.key_id;

-- The triage's decisions, one row per save (a reader profile's decisions of a run, usually all
-- of them): `PBT1` + deflate of (paper id, NUL, kept and reason, rank and similarity for the
-- embedding prefilter) — about 5 bytes a decision where a row took 30. `first_paper` and
-- `last_paper` bound the ids inside, so a lookup inflates only the sets that can hold them.
-- `paperboy why` reads them; `store::triage::all` lists them.
CREATE TABLE triage_sets (
    id          INTEGER PRIMARY KEY,
    key_id      INTEGER NOT NULL REFERENCES score_keys(id),
    run_id      INTEGER,
    decisions   INTEGER NOT NULL,   -- how many the set holds
    first_paper TEXT NOT NULL,
    last_paper  TEXT NOT NULL,
    packed      BLOB NOT NULL
) STRICT;
CREATE INDEX triage_sets_key ON triage_sets (key_id, last_paper);

-- Vectors as 8-bit integers with one scale each (a cosine moves by about 0.001), clustered by
-- model and text hash.
CREATE TABLE embeddings_q (
    model      TEXT NOT NULL,
    text_hash  TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('paper', 'profile')),
    dims       INTEGER NOT NULL CHECK (dims > 0),
    vector     BLOB NOT NULL CHECK (length(vector) = 4 + dims),  -- f32 scale (LE), then i8 × dims
    created_at TEXT NOT NULL,
    PRIMARY KEY (model, text_hash)
) STRICT, WITHOUT ROWID;

-- Abstracts deflated (`PBZ1` + deflate, in `abstract_z`; `abstract` is then empty): two in five
-- of their bytes, and more papers to a page.
ALTER TABLE papers ADD COLUMN abstract_z BLOB;

-- A run stopped part way (SIGTERM, a restart, a killed process) is `interrupted`, not `failed`:
-- the next run finishes its day, and monitoring has nothing to act on. SQLite cannot change a
-- CHECK in place, so `runs` is rebuilt, with `run_subscribers` that points at it (each new table
-- made before the old ones go, so no foreign key is ever left pointing nowhere). Past runs keep
-- the status they were recorded with.
CREATE TABLE runs_new (
    id             INTEGER PRIMARY KEY,
    day            TEXT,
    started_at     TEXT NOT NULL,
    finished_at    TEXT,
    status         TEXT NOT NULL CHECK (status IN ('running', 'ok', 'degraded', 'failed', 'interrupted', 'no_announcement')),
    dry_run        INTEGER NOT NULL DEFAULT 0,
    source         TEXT,
    scorer         TEXT,
    papers_fetched INTEGER,
    error          TEXT,
    kind           TEXT NOT NULL DEFAULT 'digest',
    pid            INTEGER
) STRICT;
INSERT INTO runs_new (id, day, started_at, finished_at, status, dry_run, source, scorer, papers_fetched, error, kind, pid)
    SELECT id, day, started_at, finished_at, status, dry_run, source, scorer, papers_fetched,
           error, kind, pid
    FROM runs;
CREATE TABLE run_subscribers_new (
    run_id         INTEGER NOT NULL REFERENCES runs_new(id),
    subscriber     TEXT NOT NULL,
    scanned        INTEGER NOT NULL DEFAULT 0,
    author_matches INTEGER NOT NULL DEFAULT 0,
    selected       INTEGER NOT NULL DEFAULT 0,
    unscored       INTEGER NOT NULL DEFAULT 0,
    status         TEXT NOT NULL,
    detail         TEXT,
    triage_kept    INTEGER,
    scored         INTEGER,
    problem        TEXT,
    PRIMARY KEY (run_id, subscriber)
) STRICT;
INSERT INTO run_subscribers_new (run_id, subscriber, scanned, author_matches, selected, unscored, status, detail, triage_kept, scored, problem)
    SELECT run_id, subscriber, scanned, author_matches, selected, unscored, status, detail, triage_kept, scored, problem
    FROM run_subscribers;
DROP TABLE run_subscribers;
DROP TABLE runs;
-- Renaming also points run_subscribers_new's foreign key at `runs`.
ALTER TABLE runs_new RENAME TO runs;
ALTER TABLE run_subscribers_new RENAME TO run_subscribers;
