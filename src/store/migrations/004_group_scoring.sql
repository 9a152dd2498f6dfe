-- Scoring for the whole group (issue 8): a cheap title triage decides which readers a paper
-- is worth a full verdict for; its decisions are kept like verdicts, so a re-run or a reader
-- with the same profile pays nothing for what is known.
CREATE TABLE triage (
    paper_id       TEXT NOT NULL REFERENCES papers(id),
    profile_hash   TEXT NOT NULL,
    model          TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    kept           INTEGER NOT NULL CHECK (kept IN (0, 1)),
    -- why: 'model' (the model's answer), 'keyword' (the reader's keyword is in title or
    -- abstract), 'no_answer' (the model gave none after re-asking: kept, to lose nothing)
    reason         TEXT NOT NULL CHECK (reason IN ('model', 'keyword', 'no_answer')),
    run_id         INTEGER,
    created_at     TEXT NOT NULL,
    PRIMARY KEY (paper_id, profile_hash, model, prompt_version)
) STRICT;

-- One model call can serve several readers: its tokens and cost are split across them, one
-- spend row each, tied together by call_id (NULL for rows written before this migration).
ALTER TABLE spend ADD COLUMN call_id TEXT;
ALTER TABLE spend ADD COLUMN stage TEXT;     -- 'triage', 'verdict', 'reply', 'check'
CREATE INDEX spend_call ON spend(call_id);

-- The run record per reader: papers scanned → kept by triage → scored → selected.
ALTER TABLE run_subscribers ADD COLUMN triage_kept INTEGER;   -- NULL: no triage ran
ALTER TABLE run_subscribers ADD COLUMN scored INTEGER;
