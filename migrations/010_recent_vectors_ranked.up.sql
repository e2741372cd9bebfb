-- Search ranks the recent vectors in SQL with pgvector's cosine distance and
-- reads back only the best k, instead of reading every recent vector (up to
-- 1,000 of 2 KB each) into Go for every search. vec holds them as pgvector
-- values, stored in the row (MAIN), so the scan reads no TOAST. embedding
-- (bytea) is still written for one release, for the previous release's
-- searches during a rolling deploy; a later (contract) migration drops it.
-- Rows written before this migration have no vec: search leaves them to the
-- vector store until the window (an hour) has passed.
CREATE EXTENSION IF NOT EXISTS vector;
ALTER TABLE recent_vectors ADD COLUMN vec vector;
ALTER TABLE recent_vectors ALTER COLUMN vec SET STORAGE MAIN;
