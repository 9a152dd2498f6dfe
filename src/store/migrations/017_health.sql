-- The daemon's recurring work as `status`, the metrics and the alerts see it: one row per
-- service it depends on, with the last success, the last failure and how many failed in a row.
CREATE TABLE health (
    service      TEXT PRIMARY KEY CHECK (service IN ('inbox', 'mail', 'webhook')),
    ok_at        TEXT,
    failed_at    TEXT,
    error        TEXT,                           -- the last failure, NULL once it works again
    failing      INTEGER NOT NULL DEFAULT 0,     -- consecutive failures
    failures     INTEGER NOT NULL DEFAULT 0      -- all failures since the store was made
) STRICT;

-- Problems the admin was told about, one row per problem until it is resolved: a problem that
-- persists (every catch-up day, every retry) is alerted once, and once more when it clears.
CREATE TABLE problems (
    id           INTEGER PRIMARY KEY,            -- one row per spell of a problem
    key          TEXT NOT NULL,                  -- e.g. 'run:model_rejected_key:*', 'inbox'
    summary      TEXT NOT NULL,
    opened_at    TEXT NOT NULL,
    seen_at      TEXT NOT NULL,
    times        INTEGER NOT NULL DEFAULT 1,
    resolved_at  TEXT                            -- NULL while it lasts
) STRICT;
CREATE UNIQUE INDEX problems_open ON problems(key) WHERE resolved_at IS NULL;

-- An alert belongs to a run, an inbox message, or a spell of a problem (the inbox failing).
CREATE TABLE alerts_new (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER UNIQUE,
    inbox_entry INTEGER UNIQUE,
    problem     INTEGER UNIQUE REFERENCES problems(id),
    recipient   TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    message_id  TEXT NOT NULL UNIQUE,
    subject     TEXT NOT NULL,
    message     BLOB NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    created_at  TEXT NOT NULL,
    sent_at     TEXT,
    CHECK ((run_id IS NOT NULL) + (inbox_entry IS NOT NULL) + (problem IS NOT NULL) = 1)
) STRICT;
INSERT INTO alerts_new (id, run_id, inbox_entry, recipient, status, message_id, subject, message,
                        attempts, last_error, created_at, sent_at)
    SELECT id, run_id, inbox_entry, recipient, status, message_id, subject, message, attempts,
           last_error, created_at, sent_at
    FROM alerts ORDER BY id;
DROP TABLE alerts;
ALTER TABLE alerts_new RENAME TO alerts;
