-- Two lanes in the embedded queue (package pgqueue): live changes and
-- backfill (bootstrap, repair, a new index generation) are separate FIFO
-- queues, as SQS has one queue per lane. The backfill lane has a table of
-- its own, so that the live lane's receive reads a table as small as the
-- live backlog whatever the backfill holds (a million messages would
-- otherwise skew every plan and scan of the shared table). Ids come from
-- one sequence, so dead letters of both lanes share queue_dead.
CREATE TABLE queue_backfill (
    id            bigint      PRIMARY KEY DEFAULT nextval(pg_get_serial_sequence('queue_messages', 'id')),
    group_id      text        NOT NULL,
    dedup_id      text        NOT NULL DEFAULT '',
    body          bytea       NOT NULL,
    sent_at       timestamptz NOT NULL DEFAULT now(),
    visible_at    timestamptz NOT NULL DEFAULT now(),
    receive_count integer     NOT NULL DEFAULT 0,
    receive_token bigint      NOT NULL DEFAULT 0
) WITH (fillfactor = 80, autovacuum_vacuum_scale_factor = 0.05);

CREATE INDEX queue_backfill_group_idx ON queue_backfill (group_id, id);

CREATE TRIGGER queue_backfill_notify
    AFTER INSERT ON queue_backfill
    FOR EACH STATEMENT EXECUTE FUNCTION queue_messages_notify();

-- The lane a dead letter came from, which a redrive sends it back to.
ALTER TABLE queue_dead ADD COLUMN lane text NOT NULL DEFAULT 'live';

-- The catch-up leaves out products whose change is still in the outbox (the
-- drain sends it on the live lane), looked up by product.
CREATE INDEX sync_outbox_product_idx ON sync_outbox (product_id);

-- Grants for the per-service roles (005_roles), as on queue_messages; the
-- id sequence is shared, so senders need it.
GRANT SELECT ON queue_backfill TO refarch_serve;
GRANT INSERT ON queue_backfill TO refarch_pelican;
GRANT SELECT, UPDATE, DELETE ON queue_backfill TO refarch_emu;
DO $$
BEGIN
    EXECUTE format('GRANT USAGE ON SEQUENCE %s TO refarch_pelican', pg_get_serial_sequence('queue_messages', 'id'));
END $$;
