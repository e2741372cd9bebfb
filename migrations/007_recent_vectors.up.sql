-- Vectors emu wrote lately (package recentvectors), recorded in the same
-- transaction as index_state. Search scores them exactly and merges them
-- with the vector store's approximate results, so a product written a
-- moment ago is found whatever the HNSW graph or Pinecone's eventual
-- consistency do. Pruned on every write to a time window and a row cap.
CREATE TABLE recent_vectors (
    model      text        NOT NULL,
    product_id bigint      NOT NULL,
    version    bigint      NOT NULL,
    embedding  bytea       NOT NULL, -- float32 values, little-endian
    written_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (model, product_id)
);

CREATE INDEX recent_vectors_written_idx ON recent_vectors (model, written_at);

-- Grants for the per-service roles (005_roles): emu records and trims
-- recent vectors in its index_state transaction; serve's search reads them.
GRANT SELECT, INSERT, UPDATE, DELETE ON recent_vectors TO refarch_emu;
GRANT SELECT ON recent_vectors TO refarch_serve;
