-- Issue 10: papers owed to a reader (not scored in time; scored and sent by a later run), the
-- typed problem of each subscriber's outcome, and the admin's alerts as recorded deliveries.
CREATE TABLE owed (
    subscriber TEXT NOT NULL,
    paper_id   TEXT NOT NULL,
    day        TEXT NOT NULL,           -- the announcement day the paper belongs to
    problem    TEXT NOT NULL,           -- problem::Kind of the last failure
    detail     TEXT,
    since      TEXT NOT NULL,
    PRIMARY KEY (subscriber, paper_id)
) STRICT;
ALTER TABLE run_subscribers ADD COLUMN problem TEXT;
CREATE TABLE alerts (
    run_id      INTEGER PRIMARY KEY,    -- one alert per run
    recipient   TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    message_id  TEXT NOT NULL UNIQUE,
    subject     TEXT NOT NULL,
    message     BLOB NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    created_at  TEXT NOT NULL,
    sent_at     TEXT
) STRICT;
