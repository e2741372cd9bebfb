-- Pelican's start-up catch-up, which is also the first-deployment bootstrap,
-- split into chunks of product ids that replicas claim with
-- FOR UPDATE SKIP LOCKED. A chunk is marked done in the transaction that
-- sent its messages, so a crashed or restarted pelican resumes the open pass
-- where it stopped and two replicas never send the same chunk.
CREATE TABLE catchup_passes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model       text        NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);

-- At most one open pass per model: replicas starting together join it.
CREATE UNIQUE INDEX catchup_passes_open_idx ON catchup_passes (model) WHERE finished_at IS NULL;

CREATE TABLE catchup_chunks (
    pass_id bigint      NOT NULL REFERENCES catchup_passes (id) ON DELETE CASCADE,
    lo      bigint      NOT NULL,
    hi      bigint      NOT NULL,
    done_at timestamptz,
    sent    integer     NOT NULL DEFAULT 0,
    done_by text        NOT NULL DEFAULT '',
    PRIMARY KEY (pass_id, lo)
);

-- Products emu gave up on at their last allowed receive (the queue then
-- dead-letters the message). Backend-independent, so status and the UI can
-- show "failed" whether the queue is Postgres or SQS. A successful write of
-- the product clears its row.
CREATE TABLE index_failures (
    model         text        NOT NULL,
    product_id    bigint      NOT NULL,
    version       bigint      NOT NULL,
    error         text        NOT NULL,
    receive_count integer     NOT NULL,
    failed_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model, product_id)
);

-- Vector indexes that exist and accept writes, registered by emu once its
-- vector store is open (Pinecone creates the index then). Pelican waits for
-- its model's row before sending anything, so a fresh deployment never
-- enqueues into an index that does not exist yet, and pelican needs no
-- vector store credentials.
CREATE TABLE vector_indexes (
    model     text        PRIMARY KEY,
    store     text        NOT NULL,
    ready_at  timestamptz NOT NULL DEFAULT now()
);
