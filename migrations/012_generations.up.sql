-- Index generations (package generations): an embedder (kind, model,
-- dimensions, options) and a vector store target, with a state. Exactly one
-- generation is active: search embeds queries with its embedder and reads
-- its store. Building and retired generations are written like the active
-- one (every change reaches every live generation), so a new model can be
-- backfilled and promoted, and an old one promoted back, without downtime.
-- A generation's name is also its key in index_state, index_failures,
-- recent_vectors, vector_indexes and catchup_passes (their model column):
-- the first generation of an existing database is named after the model it
-- has always indexed, so its index is adopted as it is.
CREATE TABLE index_generations (
    name        text        PRIMARY KEY CHECK (name <> ''),
    seq         bigint      GENERATED ALWAYS AS IDENTITY,
    embedder    text        NOT NULL,
    model       text        NOT NULL,
    dims        integer     NOT NULL CHECK (dims > 0),
    options     jsonb       NOT NULL DEFAULT '{}',
    store       text        NOT NULL CHECK (store IN ('pgvector', 'pinecone')),
    target      text        NOT NULL,
    state       text        NOT NULL CHECK (state IN ('building', 'active', 'retired', 'dropping')),
    -- Promote it as soon as its backfill is complete (pelican does).
    auto_promote boolean    NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    promoted_at timestamptz,
    retired_at  timestamptz
);

-- Exactly one active generation: at most one by this index, and promotion
-- swaps the two rows in one statement.
CREATE UNIQUE INDEX index_generations_one_active ON index_generations ((true)) WHERE state = 'active';

-- Every role reloads the generations on this wake-up (and also polls).
CREATE FUNCTION index_generations_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('refarch_generations', '');
    RETURN NULL;
END $$;

CREATE TRIGGER index_generations_notify
    AFTER INSERT OR UPDATE OR DELETE ON index_generations
    FOR EACH STATEMENT EXECUTE FUNCTION index_generations_notify();

-- Every role reads the generations; a role that starts on an empty
-- database creates the first one from its configuration. The index
-- commands (create, promote, drop) run as the migrating user.
GRANT SELECT, INSERT ON index_generations TO refarch_serve, refarch_pelican, refarch_emu;
-- emu locks a generation FOR KEY SHARE in each write transaction (against a
-- concurrent drop), which needs UPDATE on a column.
GRANT UPDATE (state) ON index_generations TO refarch_emu;
-- pelican promotes a generation created with auto_promote once its
-- backfill is complete.
GRANT UPDATE (state, promoted_at, retired_at) ON index_generations TO refarch_pelican;
