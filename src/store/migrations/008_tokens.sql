-- Issue 11: a separate unsubscribe token per reader (the reply token is no longer in the
-- unsubscribe address), so each capability can be rotated and checked on its own.
ALTER TABLE reply_tokens ADD COLUMN unsub_token TEXT;
CREATE UNIQUE INDEX reply_tokens_unsub ON reply_tokens (unsub_token);
