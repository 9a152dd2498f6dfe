-- Issue 21: every mail subscribing by mail sends (confirmations, "already subscribed" and
-- "awaiting approval" notes, welcomes), counted for the limits: per address without its +tag,
-- per domain, and in all.
CREATE TABLE subscribe_mail (
    id       INTEGER PRIMARY KEY,
    address  TEXT NOT NULL,   -- lowercased, +tag removed: victim+1@x and victim+2@x are one
    domain   TEXT NOT NULL,
    kind     TEXT NOT NULL,   -- confirmation, note, welcome
    sent_at  TEXT NOT NULL
) STRICT;
CREATE INDEX subscribe_mail_sent ON subscribe_mail (sent_at);
