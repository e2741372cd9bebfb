-- The embedded queue's depth in constant time (package pgqueue, Depth).
-- Counting a lane's messages one by one costs a scan of the lane (a second
-- or two with a bootstrap's million messages waiting), and status reads it
-- every second. Instead each statement that adds or removes messages (send,
-- ack, dead-lettering, redrive) appends its row-count change here, per lane,
-- from a statement-level trigger; a read sums the few rows left and
-- compacts them now and then. Writers only append, so they never wait for
-- each other on a counter row.
CREATE TABLE queue_depth_deltas (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lane     text   NOT NULL,
    messages bigint NOT NULL DEFAULT 0,
    dead     bigint NOT NULL DEFAULT 0
);
CREATE INDEX queue_depth_deltas_lane_idx ON queue_depth_deltas (lane, id);

-- TG_ARGV[0] is the lane of the table the trigger is on.
CREATE FUNCTION queue_depth_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO queue_depth_deltas (lane, messages) SELECT TG_ARGV[0], count(*) FROM new_rows HAVING count(*) > 0;
    RETURN NULL;
END $$;

CREATE FUNCTION queue_depth_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO queue_depth_deltas (lane, messages) SELECT TG_ARGV[0], -count(*) FROM old_rows HAVING count(*) > 0;
    RETURN NULL;
END $$;

CREATE FUNCTION queue_depth_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('INSERT INTO queue_depth_deltas (lane, messages) SELECT %L, -count(*) FROM %I HAVING count(*) > 0',
        TG_ARGV[0], TG_TABLE_NAME);
    RETURN NULL;
END $$;

CREATE TRIGGER queue_messages_depth_inserted AFTER INSERT ON queue_messages
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION queue_depth_inserted('live');
CREATE TRIGGER queue_messages_depth_deleted AFTER DELETE ON queue_messages
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION queue_depth_deleted('live');
CREATE TRIGGER queue_messages_depth_truncated BEFORE TRUNCATE ON queue_messages
    FOR EACH STATEMENT EXECUTE FUNCTION queue_depth_truncated('live');
CREATE TRIGGER queue_backfill_depth_inserted AFTER INSERT ON queue_backfill
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION queue_depth_inserted('backfill');
CREATE TRIGGER queue_backfill_depth_deleted AFTER DELETE ON queue_backfill
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION queue_depth_deleted('backfill');
CREATE TRIGGER queue_backfill_depth_truncated BEFORE TRUNCATE ON queue_backfill
    FOR EACH STATEMENT EXECUTE FUNCTION queue_depth_truncated('backfill');

-- Dead letters carry their lane.
CREATE FUNCTION queue_dead_depth_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO queue_depth_deltas (lane, dead) SELECT lane, count(*) FROM new_rows GROUP BY lane;
    RETURN NULL;
END $$;

CREATE FUNCTION queue_dead_depth_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO queue_depth_deltas (lane, dead) SELECT lane, -count(*) FROM old_rows GROUP BY lane;
    RETURN NULL;
END $$;

CREATE FUNCTION queue_dead_depth_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO queue_depth_deltas (lane, dead) SELECT lane, -count(*) FROM queue_dead GROUP BY lane;
    RETURN NULL;
END $$;

CREATE TRIGGER queue_dead_depth_inserted AFTER INSERT ON queue_dead
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION queue_dead_depth_inserted();
CREATE TRIGGER queue_dead_depth_deleted AFTER DELETE ON queue_dead
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION queue_dead_depth_deleted();
CREATE TRIGGER queue_dead_depth_truncated BEFORE TRUNCATE ON queue_dead
    FOR EACH STATEMENT EXECUTE FUNCTION queue_dead_depth_truncated();

-- The depth of what is queued now. Writers wait for this migration's commit,
-- so that no message slips between the counting and the triggers.
LOCK TABLE queue_messages, queue_backfill, queue_dead IN SHARE MODE;
INSERT INTO queue_depth_deltas (lane, messages) SELECT 'live', count(*) FROM queue_messages;
INSERT INTO queue_depth_deltas (lane, messages) SELECT 'backfill', count(*) FROM queue_backfill;
INSERT INTO queue_depth_deltas (lane, dead) SELECT lane, count(*) FROM queue_dead GROUP BY lane;

-- Grants for the per-service roles (005_roles): every role's queue writes
-- fire the triggers (pelican sends, emu acks and dead-letters, an operator
-- redrives as any of them), and any of them reads the depth and compacts
-- the deltas.
GRANT SELECT, INSERT, DELETE ON queue_depth_deltas TO refarch_serve, refarch_pelican, refarch_emu;
