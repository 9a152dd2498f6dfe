-- The web archive (issue 9): what each digest showed, so its day page shows the same data
-- without scoring again, and each reader's unguessable archive key.
ALTER TABLE deliveries ADD COLUMN page TEXT;   -- JSON of digest::StoredPage (papers by ID); NULL for older rows
CREATE TABLE archive_keys (
    subscriber TEXT PRIMARY KEY,
    key        TEXT NOT NULL UNIQUE,          -- 32 random hex digits: the reader's folder
    created_at TEXT NOT NULL
) STRICT;
