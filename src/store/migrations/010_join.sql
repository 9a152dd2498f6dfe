-- Issue 12: subscribing by mail, double opt-in. One row per request; the token is the one-time
-- capability in the confirmation's reply address (digest+join-TOKEN@…).
CREATE TABLE join_requests (
    token        TEXT PRIMARY KEY,
    email        TEXT NOT NULL,               -- who would be subscribed (the request's From)
    fields       TEXT NOT NULL,               -- JSON: name, topics, authors, language asked for
    status       TEXT NOT NULL CHECK (status IN ('pending', 'confirmed', 'added', 'expired')),
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    confirmed_at TEXT
) STRICT;
CREATE INDEX join_requests_email ON join_requests (email);
