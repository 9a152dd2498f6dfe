-- The secret in each subscriber's reply address (digest+TOKEN@…): a reply is applied only when
-- its token belongs to the sender.
CREATE TABLE reply_tokens (
    subscriber TEXT PRIMARY KEY,
    token      TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
) STRICT;

-- Every message read from the inbox, once: what was made of it, and the answer to send.
CREATE TABLE inbound (
    message_id   TEXT PRIMARY KEY,
    received_at  TEXT NOT NULL,
    sender       TEXT,
    subscriber   TEXT,
    outcome      TEXT NOT NULL,      -- applied, answered, unsubscribed, rejected, ignored
    detail       TEXT,
    reply        BLOB,               -- the confirmation/help message to send, if any
    reply_to     TEXT,               -- its recipient
    reply_status TEXT                -- pending, sent, failed
) STRICT;

-- Papers a subscriber pointed at ("more like 3" / "less like 5"): shown to the model as examples.
CREATE TABLE examples (
    id         INTEGER PRIMARY KEY,
    subscriber TEXT NOT NULL,
    paper_id   TEXT NOT NULL,
    more       INTEGER NOT NULL,     -- 1: more like this, 0: less like this
    title      TEXT NOT NULL,
    message_id TEXT,                 -- the reply that asked for it (for undo)
    created_at TEXT NOT NULL,
    UNIQUE (subscriber, paper_id)
) STRICT;
