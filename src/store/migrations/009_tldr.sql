-- Issue 12: a one-sentence TL;DR per verdict, in the reader's language.
ALTER TABLE verdicts ADD COLUMN tldr TEXT;
