-- Replays (issue 32): each message read from the inbox keeps a fingerprint of its sender, date,
-- subject and text, so the same mail sent again under a new Message-ID is recognised.
ALTER TABLE inbound ADD COLUMN fingerprint TEXT;
CREATE INDEX inbound_fingerprint ON inbound (fingerprint) WHERE fingerprint IS NOT NULL;
