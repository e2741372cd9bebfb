-- One Postgres role per service, each with only what its code does, so that
-- a compromised or buggy serve cannot, say, empty the queue or drop a table.
-- Identity columns need no sequence grant. The user that runs migrate owns
-- the schema (on RDS the master user). The
-- roles log in without a password: on RDS through IAM database
-- authentication (rds_iam, a token per connection), locally over the trust
-- of a development cluster. Roles belong to the whole server, so creating
-- them is idempotent; grants belong to this database.
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['refarch_serve', 'refarch_pelican', 'refarch_emu'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I LOGIN', r);
        END IF;
    END LOOP;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam') THEN
        GRANT rds_iam TO refarch_serve, refarch_pelican, refarch_emu;
    END IF;
    -- The migrating user sets emu's default privileges below, which needs
    -- membership (a superuser has it already).
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE format('GRANT refarch_emu TO %I', current_user);
    END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO refarch_serve, refarch_pelican, refarch_emu;
GRANT SELECT ON schema_migrations TO refarch_serve, refarch_pelican, refarch_emu;

-- serve: the catalog API and UI write products (whose trigger writes the
-- outbox); search, badges and the status page read the rest.
GRANT SELECT, INSERT, UPDATE, DELETE ON products TO refarch_serve;
GRANT SELECT, INSERT ON sync_outbox TO refarch_serve;
GRANT SELECT ON index_state, index_failures, queue_messages, queue_dead TO refarch_serve;

-- pelican: drains the outbox, runs the catch-up passes, sends to the queue.
GRANT SELECT ON products, index_state, vector_indexes TO refarch_pelican;
GRANT SELECT, UPDATE, DELETE ON sync_outbox TO refarch_pelican;
GRANT SELECT, INSERT, UPDATE, DELETE ON catchup_passes TO refarch_pelican;
GRANT SELECT, INSERT, UPDATE ON catchup_chunks TO refarch_pelican; -- a pass's delete cascades
GRANT INSERT ON queue_messages TO refarch_pelican;
GRANT SELECT, INSERT, UPDATE, DELETE ON queue_dedup TO refarch_pelican;

-- emu: receives from the queue, writes vectors, records what it indexed.
GRANT SELECT ON products TO refarch_emu;
GRANT SELECT, INSERT, UPDATE, DELETE ON index_state, index_failures TO refarch_emu;
GRANT SELECT, INSERT, UPDATE ON vector_indexes TO refarch_emu;
GRANT SELECT, UPDATE, DELETE ON queue_messages TO refarch_emu;
GRANT SELECT, INSERT ON queue_dead TO refarch_emu;
GRANT USAGE ON SEQUENCE queue_receive_token_seq TO refarch_emu;
-- pgvector tables are per model and created when emu first opens a model's
-- store: emu owns them, serve reads them.
GRANT CREATE ON SCHEMA public TO refarch_emu;
ALTER DEFAULT PRIVILEGES FOR ROLE refarch_emu IN SCHEMA public GRANT SELECT ON TABLES TO refarch_serve;

-- Vector tables created before this migration (by the migrating user) pass
-- to emu, which drops and rebuilds their indexes during a bootstrap.
DO $$
DECLARE
    t regclass;
BEGIN
    FOR t IN SELECT c.oid::regclass FROM pg_class c
             WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace
               AND obj_description(c.oid, 'pg_class') LIKE 'refarch vectors;%' LOOP
        EXECUTE format('ALTER TABLE %s OWNER TO refarch_emu', t);
        EXECUTE format('GRANT SELECT ON %s TO refarch_serve', t);
    END LOOP;
END
$$;
