-- Papers, stored once by versionless arXiv ID.
CREATE TABLE papers (
    id            TEXT PRIMARY KEY,
    version       INTEGER NOT NULL,
    title         TEXT NOT NULL,
    authors       TEXT NOT NULL,            -- JSON array of names (Unicode)
    abstract      TEXT NOT NULL,
    categories    TEXT NOT NULL,            -- JSON array
    doi           TEXT,
    journal_ref   TEXT,
    first_seen    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
) STRICT;

-- Which papers an announcement day carried, and how.
CREATE TABLE announcements (
    day           TEXT NOT NULL,
    paper_id      TEXT NOT NULL REFERENCES papers(id),
    announce_type TEXT NOT NULL CHECK (announce_type IN ('new', 'cross', 'replace', 'replace-cross')),
    PRIMARY KEY (day, paper_id)
) STRICT;

-- One row per invocation of the pipeline.
CREATE TABLE runs (
    id             INTEGER PRIMARY KEY,
    day            TEXT,
    started_at     TEXT NOT NULL,
    finished_at    TEXT,
    status         TEXT NOT NULL CHECK (status IN ('running', 'ok', 'degraded', 'failed', 'no_announcement')),
    dry_run        INTEGER NOT NULL DEFAULT 0,
    source         TEXT,
    scorer         TEXT,
    papers_fetched INTEGER,
    error          TEXT
) STRICT;

-- What a run did for each subscriber.
CREATE TABLE run_subscribers (
    run_id         INTEGER NOT NULL REFERENCES runs(id),
    subscriber     TEXT NOT NULL,
    scanned        INTEGER NOT NULL DEFAULT 0,
    author_matches INTEGER NOT NULL DEFAULT 0,
    selected       INTEGER NOT NULL DEFAULT 0,
    unscored       INTEGER NOT NULL DEFAULT 0,
    status         TEXT NOT NULL,
    detail         TEXT,
    PRIMARY KEY (run_id, subscriber)
) STRICT;

-- Verdicts, keyed so that the same paper for the same reader profile, model and prompts is
-- never paid for twice.
CREATE TABLE verdicts (
    paper_id       TEXT NOT NULL REFERENCES papers(id),
    profile_hash   TEXT NOT NULL,
    model          TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    relevance      INTEGER NOT NULL CHECK (relevance BETWEEN 1 AND 10),
    novelty        INTEGER CHECK (novelty BETWEEN 1 AND 10),
    comment        TEXT NOT NULL,
    run_id         INTEGER,
    created_at     TEXT NOT NULL,
    PRIMARY KEY (paper_id, profile_hash, model, prompt_version)
) STRICT;

-- Every model call: the ledger behind `spend` and the budget.
CREATE TABLE spend (
    id                INTEGER PRIMARY KEY,
    at                TEXT NOT NULL,
    run_id            INTEGER,
    subscriber        TEXT,
    profile_hash      TEXT,
    model             TEXT NOT NULL,
    papers            INTEGER NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    cached_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost_micros       INTEGER            -- NULL: the model's price is unknown
) STRICT;
CREATE INDEX spend_at ON spend(at);
CREATE INDEX spend_run ON spend(run_id);

-- One digest per subscriber per announcement day; the primary key makes a second send impossible.
CREATE TABLE deliveries (
    subscriber  TEXT NOT NULL,
    day         TEXT NOT NULL,
    run_id      INTEGER,
    status      TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    kind        TEXT NOT NULL CHECK (kind IN ('digest', 'empty')),
    message_id  TEXT NOT NULL UNIQUE,
    subject     TEXT NOT NULL,
    paper_ids   TEXT NOT NULL,       -- JSON array, in digest order (numbers in the mail are 1-based positions)
    message     BLOB NOT NULL,       -- the exact RFC 5322 bytes, so a resumed send is identical
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    created_at  TEXT NOT NULL,
    sent_at     TEXT,
    PRIMARY KEY (subscriber, day)
) STRICT;

-- Papers a subscriber has been sent, so no paper reaches them twice whatever the day.
CREATE TABLE sent_papers (
    subscriber TEXT NOT NULL,
    paper_id   TEXT NOT NULL,
    day        TEXT NOT NULL,
    PRIMARY KEY (subscriber, paper_id)
) STRICT;
