-- Pelican records a product whose message the queue refuses for good (for
-- what it holds, not for the queue's state) in index_failures, in the
-- transaction that deletes its outbox row, so that it shows as failed and
-- every other change keeps flowing. Grants for the per-service roles
-- (005_roles).
GRANT SELECT, INSERT, UPDATE ON index_failures TO refarch_pelican;
