-- Every change to a subscriber: when, by whom, what it was before and after.
CREATE TABLE audit (
    id         INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    actor      TEXT NOT NULL CHECK (actor IN ('cli', 'reply')),
    detail     TEXT,                 -- e.g. the Unix user, or the Message-ID of the reply
    subscriber TEXT NOT NULL,
    action     TEXT NOT NULL,        -- add, remove, pause, resume, set KEY, edit, …
    before     TEXT,                 -- JSON of the entry before (NULL when added)
    after      TEXT                  -- JSON of the entry after (NULL when removed)
) STRICT;
CREATE INDEX audit_subscriber ON audit(subscriber, at);

-- What kind of run a row is: the daily digest or an admin's preview.
ALTER TABLE runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'digest';
