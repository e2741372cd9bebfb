-- The embedded queue (package pgqueue): SQS FIFO semantics in Postgres, so a
-- laptop or a test needs nothing but this database.

-- Live messages. Only the oldest message of a group (the head) can be
-- received, so a group with a message in flight is blocked until that
-- message is acknowledged, dead-lettered or released. receive_token changes
-- on every delivery, so a receipt from an earlier delivery matches nothing.
-- Every receive rewrites a row and every ack deletes one: free space on each
-- page keeps the rewrites HOT, and frequent vacuuming keeps receives from
-- stepping over dead rows at the head of the queue.
CREATE TABLE queue_messages (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    group_id      text        NOT NULL,
    dedup_id      text        NOT NULL DEFAULT '',
    body          bytea       NOT NULL,
    sent_at       timestamptz NOT NULL DEFAULT now(),
    visible_at    timestamptz NOT NULL DEFAULT now(),
    receive_count integer     NOT NULL DEFAULT 0,
    receive_token bigint      NOT NULL DEFAULT 0
) WITH (fillfactor = 80, autovacuum_vacuum_scale_factor = 0.05);

-- The head test (is there an older message of my group?) runs for every
-- candidate on every receive.
CREATE INDEX queue_messages_group_idx ON queue_messages (group_id, id);

CREATE SEQUENCE queue_receive_token_seq;

-- Messages that were received too often; Redrive moves them back.
CREATE TABLE queue_dead (
    id            bigint      PRIMARY KEY,
    group_id      text        NOT NULL,
    dedup_id      text        NOT NULL DEFAULT '',
    body          bytea       NOT NULL,
    sent_at       timestamptz NOT NULL,
    receive_count integer     NOT NULL,
    dead_at       timestamptz NOT NULL DEFAULT now()
);

-- Deduplication ids seen within the window (SQS keeps them five minutes).
CREATE TABLE queue_dedup (
    dedup_id   text        PRIMARY KEY,
    expires_at timestamptz NOT NULL
);

CREATE INDEX queue_dedup_expires_idx ON queue_dedup (expires_at);

-- Wakes long-polling receivers when messages arrive (sends and redrives). A
-- wake-up only: receivers also poll, so a lost notification costs latency,
-- never a message. A statement whose messages were all duplicates wakes
-- receivers for nothing, which is cheaper than a transition table holding
-- every inserted body to check.
CREATE FUNCTION queue_messages_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('refarch_queue', '');
    RETURN NULL;
END $$;

CREATE TRIGGER queue_messages_notify
    AFTER INSERT ON queue_messages
    FOR EACH STATEMENT EXECUTE FUNCTION queue_messages_notify();
