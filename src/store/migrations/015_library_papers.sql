-- Issue 20: the papers of a reader's imported library. Each is a "more like this" signal for the
-- reader's ranking (embedded as its title; the vector is stored in `embeddings` with kind
-- 'profile', as a piece of what the reader reads), and its authors are the co-authors a followed
-- name is checked against ("possibly another person" when none of them recur).
CREATE TABLE library_papers (
    subscriber  TEXT NOT NULL,
    title       TEXT NOT NULL,
    authors     TEXT NOT NULL,            -- JSON array of "Given Last"
    imported_on TEXT NOT NULL,            -- YYYY-MM-DD
    PRIMARY KEY (subscriber, title)
) STRICT;
