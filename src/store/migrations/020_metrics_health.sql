-- The metrics endpoint's health (issue 32): a spell of failed accepts is recorded like the
-- inbox's, so `status` can name it.
CREATE TABLE health_new (
    service      TEXT PRIMARY KEY CHECK (service IN ('inbox', 'mail', 'webhook', 'metrics')),
    ok_at        TEXT,
    failed_at    TEXT,
    error        TEXT,                           -- the last failure, NULL once it works again
    failing      INTEGER NOT NULL DEFAULT 0,     -- consecutive failures
    failures     INTEGER NOT NULL DEFAULT 0      -- all failures since the store was made
) STRICT;
INSERT INTO health_new SELECT service, ok_at, failed_at, error, failing, failures FROM health;
DROP TABLE health;
ALTER TABLE health_new RENAME TO health;
