-- Issue 14: bioRxiv and medRxiv beside arXiv. A paper's source decides its links; a preprint's
-- ID is its DOI.
ALTER TABLE papers ADD COLUMN source TEXT NOT NULL DEFAULT 'arxiv'
    CHECK (source IN ('arxiv', 'biorxiv', 'medrxiv'));

-- How far each preprint server and subject has been read, by the calendar: the next run reads
-- from the day after `read_to`. A failed read leaves it where it was.
CREATE TABLE source_reads (
    server      TEXT NOT NULL CHECK (server IN ('biorxiv', 'medrxiv')),
    category    TEXT NOT NULL,
    read_to     TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (server, category)
) STRICT;

-- The process a run belongs to, so a later one-shot run can tell a run whose process died
-- (SIGKILL, power loss) from one still going.
ALTER TABLE runs ADD COLUMN pid INTEGER;
