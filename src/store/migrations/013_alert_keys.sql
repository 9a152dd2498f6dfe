-- An alert belongs to a run or to an inbox message, each in a column of its own (inbox alerts
-- were kept under negated run ids).
CREATE TABLE alerts_new (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER UNIQUE,         -- one alert per run
    inbox_entry INTEGER UNIQUE,         -- one alert per inbox message (its inbound rowid)
    recipient   TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    message_id  TEXT NOT NULL UNIQUE,
    subject     TEXT NOT NULL,
    message     BLOB NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    created_at  TEXT NOT NULL,
    sent_at     TEXT,
    CHECK ((run_id IS NULL) <> (inbox_entry IS NULL))
) STRICT;
INSERT INTO alerts_new (run_id, inbox_entry, recipient, status, message_id, subject, message,
                        attempts, last_error, created_at, sent_at)
    SELECT CASE WHEN run_id > 0 THEN run_id END, CASE WHEN run_id < 0 THEN -run_id END,
           recipient, status, message_id, subject, message, attempts, last_error, created_at, sent_at
    FROM alerts ORDER BY run_id;
DROP TABLE alerts;
ALTER TABLE alerts_new RENAME TO alerts;
