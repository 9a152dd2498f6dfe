-- Issue 12: a library sent by reply (a .bib attachment) waits for the reader's "yes".
CREATE TABLE library_imports (
    id          INTEGER PRIMARY KEY,
    subscriber  TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    plan        TEXT NOT NULL,                -- JSON: subscribers::library::Plan
    status      TEXT NOT NULL CHECK (status IN ('pending', 'applied')),
    created_at  TEXT NOT NULL
) STRICT;
