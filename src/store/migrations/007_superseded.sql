-- `digest --date D --only EMAIL --again`: the earlier digest of that day is kept here, not lost,
-- when the admin deliberately sends the day again.
CREATE TABLE superseded_deliveries (
    subscriber    TEXT NOT NULL,
    day           TEXT NOT NULL,
    status        TEXT NOT NULL,
    message_id    TEXT NOT NULL,
    subject       TEXT NOT NULL,
    paper_ids     TEXT NOT NULL,
    message       BLOB NOT NULL,
    created_at    TEXT NOT NULL,
    superseded_at TEXT NOT NULL
) STRICT;
