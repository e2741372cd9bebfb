-- A catch-up sends one range message per chunk of product ids, and emu
-- reads what the index lacks in the range when it works the message
-- (roles/emu, expand): the products behind, leaving out those whose change
-- is still in the outbox (the live lane brings them). So emu reads the
-- outbox's product ids and versions.
GRANT SELECT ON sync_outbox TO refarch_emu;
