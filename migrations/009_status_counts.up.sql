-- Status in constant time (package indexstate, summary.go). Counting the
-- index's state by joining products with index_state costs a scan of the
-- catalog (seconds at a million rows), so the counts are kept instead:
--
--   status_counts    per model: how many products are stale, missing, delete
--                    pending and failed, as of the last fold;
--   status_pending   per model and product: the class each product had at
--                    that fold, for the products that are not simply indexed
--                    (at rest only the failures: its size is the pending work);
--   status_changes   the product ids whose class may have changed since: the
--                    triggers below append one row per changed product, in the
--                    changing transaction, and read nothing else;
--   status_deltas    row-count deltas (products, outbox, index writes), one
--                    row per statement, summed at read and compacted.
--
-- A reader recomputes the class of the changed products only and corrects the
-- counts, in one statement, so the numbers are exact at its snapshot whatever
-- runs concurrently; a fold (serve and emu run one every second) applies the
-- changes to the counts and deletes them. Writers never read the other
-- tables nor lock anything new: the triggers only append.

-- The class of a product in the index of a model, as bits: 1 stale (indexed
-- at an older version), 2 missing (not indexed: no state, a delete, or a
-- reset), 4 delete pending (deleted, its vector still indexed), 8 failed
-- (emu gave up on it and the index does not hold its current version).
-- A product that is indexed, or deleted and gone from the index, is 0.
CREATE FUNCTION status_bits(has_p boolean, p_version bigint, has_s boolean, s_version bigint,
                            s_deleted boolean, has_f boolean) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (CASE WHEN has_p AND has_s AND NOT s_deleted AND s_version > 0 AND s_version < p_version THEN 1 ELSE 0 END
          + CASE WHEN has_p AND (NOT has_s OR s_deleted OR s_version = 0) THEN 2 ELSE 0 END
          + CASE WHEN NOT has_p AND has_s AND NOT s_deleted AND s_version > 0 THEN 4 ELSE 0 END
          + CASE WHEN has_f AND (NOT has_s OR (NOT has_p AND NOT s_deleted) OR s_version < p_version) THEN 8 ELSE 0 END)::smallint
$$;

CREATE TABLE status_counts (
    model          text   PRIMARY KEY,
    stale          bigint NOT NULL DEFAULT 0,
    missing        bigint NOT NULL DEFAULT 0,
    delete_pending bigint NOT NULL DEFAULT 0,
    failed         bigint NOT NULL DEFAULT 0
);

-- since is the product's updated_at while it is stale or missing, for the
-- age of the oldest change the index lacks.
CREATE TABLE status_pending (
    model      text     NOT NULL,
    product_id bigint   NOT NULL,
    bits       smallint NOT NULL,
    since      timestamptz,
    PRIMARY KEY (model, product_id)
);
CREATE INDEX status_pending_since_idx ON status_pending (model, since) WHERE since IS NOT NULL;

-- model is set for changes of index_state and index_failures (so a fold
-- learns of a new model), NULL for changes of products (every model).
CREATE TABLE status_changes (
    seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id bigint NOT NULL,
    model      text
) WITH (autovacuum_vacuum_scale_factor = 0.05);

-- products and outbox are global (model ''); written counts index_state rows
-- moved to a newer version, per model, for the indexing rate.
CREATE TABLE status_deltas (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model    text   NOT NULL DEFAULT '',
    products bigint NOT NULL DEFAULT 0,
    outbox   bigint NOT NULL DEFAULT 0,
    written  bigint NOT NULL DEFAULT 0
);

-- Starts counting the index of model m: its classes and counts computed from
-- scratch (a scan of the catalog, once per model). Callers hold the fold lock.
CREATE FUNCTION status_track(m text) RETURNS void
LANGUAGE sql AS $$
    DELETE FROM status_pending WHERE model = m;
    INSERT INTO status_pending (model, product_id, bits, since)
    SELECT m, id, bits, CASE WHEN bits & 3 <> 0 THEN updated_at END FROM (
        SELECT coalesce(p.id, s.product_id, f.product_id) AS id, p.updated_at,
            status_bits(p.id IS NOT NULL, p.version, s.product_id IS NOT NULL, s.version, s.deleted, f.product_id IS NOT NULL) AS bits
        FROM products p
        FULL JOIN (SELECT * FROM index_state WHERE model = m) s ON s.product_id = p.id
        FULL JOIN (SELECT * FROM index_failures WHERE model = m) f ON f.product_id = coalesce(p.id, s.product_id)
    ) x WHERE bits <> 0;
    INSERT INTO status_counts (model, stale, missing, delete_pending, failed)
    SELECT m, count(*) FILTER (WHERE bits & 1 <> 0), count(*) FILTER (WHERE bits & 2 <> 0),
        count(*) FILTER (WHERE bits & 4 <> 0), count(*) FILTER (WHERE bits & 8 <> 0)
    FROM status_pending WHERE model = m
    ON CONFLICT (model) DO UPDATE SET stale = excluded.stale, missing = excluded.missing,
        delete_pending = excluded.delete_pending, failed = excluded.failed;
$$;

-- The triggers. Statement-level with transition tables: one insert per
-- statement, not per row, so a seed's 5,000-row statements pay little.

CREATE FUNCTION status_products_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO status_changes (product_id) SELECT id FROM new_rows;
    -- Every insert writes one outbox row (products_after_write).
    INSERT INTO status_deltas (products, outbox) SELECT count(*), count(*) FROM new_rows HAVING count(*) > 0;
    RETURN NULL;
END $$;

CREATE FUNCTION status_products_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- An update that changes nothing keeps the version and writes no
    -- outbox row; one that does writes one.
    WITH c AS (SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE n.version <> o.version),
    logged AS (INSERT INTO status_changes (product_id) SELECT id FROM c)
    INSERT INTO status_deltas (outbox) SELECT count(*) FROM c HAVING count(*) > 0;
    RETURN NULL;
END $$;

CREATE FUNCTION status_products_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO status_changes (product_id) SELECT id FROM old_rows;
    INSERT INTO status_deltas (products, outbox) SELECT -count(*), count(*) FROM old_rows HAVING count(*) > 0;
    RETURN NULL;
END $$;

-- TRUNCATE: products_before_truncate queues a delete for every row.
CREATE FUNCTION status_products_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO status_changes (product_id) SELECT id FROM products;
    INSERT INTO status_deltas (products, outbox) SELECT -count(*), count(*) FROM products HAVING count(*) > 0;
    RETURN NULL;
END $$;

CREATE TRIGGER status_products_inserted AFTER INSERT ON products
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION status_products_inserted();
CREATE TRIGGER status_products_updated AFTER UPDATE ON products
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION status_products_updated();
CREATE TRIGGER status_products_deleted AFTER DELETE ON products
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION status_products_deleted();
CREATE TRIGGER status_products_truncated BEFORE TRUNCATE ON products
    FOR EACH STATEMENT EXECUTE FUNCTION status_products_truncated();

-- sync_outbox: pelican deletes what it sent.
CREATE FUNCTION status_outbox_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO status_deltas (outbox) SELECT -count(*) FROM old_rows HAVING count(*) > 0;
    RETURN NULL;
END $$;

CREATE FUNCTION status_outbox_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO status_deltas (outbox) SELECT -count(*) FROM sync_outbox HAVING count(*) > 0;
    RETURN NULL;
END $$;

CREATE TRIGGER status_outbox_deleted AFTER DELETE ON sync_outbox
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION status_outbox_deleted();
CREATE TRIGGER status_outbox_truncated BEFORE TRUNCATE ON sync_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION status_outbox_truncated();

-- index_state: emu's placeholder rows (version 0, not deleted) change no
-- class, and its lock (an upsert that changes nothing) logs nothing.
CREATE FUNCTION status_states_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO status_changes (product_id, model) SELECT product_id, model FROM new_rows WHERE version > 0 OR deleted;
    INSERT INTO status_deltas (model, written) SELECT model, count(*) FROM new_rows WHERE version > 0 GROUP BY model;
    RETURN NULL;
END $$;

CREATE FUNCTION status_states_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    WITH c AS (SELECT n.model, n.product_id, n.version > o.version AS written
               FROM new_rows n JOIN old_rows o ON o.model = n.model AND o.product_id = n.product_id
               WHERE (n.version, n.deleted) IS DISTINCT FROM (o.version, o.deleted)),
    logged AS (INSERT INTO status_changes (product_id, model) SELECT product_id, model FROM c)
    INSERT INTO status_deltas (model, written) SELECT model, count(*) FROM c WHERE written GROUP BY model;
    RETURN NULL;
END $$;

CREATE FUNCTION status_states_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO status_changes (product_id, model) SELECT product_id, model FROM old_rows WHERE version > 0 OR deleted;
    RETURN NULL;
END $$;

CREATE FUNCTION status_states_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO status_changes (product_id, model) SELECT product_id, model FROM index_state;
    RETURN NULL;
END $$;

CREATE TRIGGER status_states_inserted AFTER INSERT ON index_state
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION status_states_inserted();
CREATE TRIGGER status_states_updated AFTER UPDATE ON index_state
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION status_states_updated();
CREATE TRIGGER status_states_deleted AFTER DELETE ON index_state
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION status_states_deleted();
CREATE TRIGGER status_states_truncated BEFORE TRUNCATE ON index_state
    FOR EACH STATEMENT EXECUTE FUNCTION status_states_truncated();

-- index_failures: rare; every change is logged.
CREATE FUNCTION status_failures_new() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO status_changes (product_id, model) SELECT product_id, model FROM new_rows;
    RETURN NULL;
END $$;

CREATE FUNCTION status_failures_old() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO status_changes (product_id, model) SELECT product_id, model FROM old_rows;
    RETURN NULL;
END $$;

CREATE FUNCTION status_failures_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO status_changes (product_id, model) SELECT product_id, model FROM index_failures;
    RETURN NULL;
END $$;

CREATE TRIGGER status_failures_inserted AFTER INSERT ON index_failures
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION status_failures_new();
CREATE TRIGGER status_failures_updated AFTER UPDATE ON index_failures
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION status_failures_new();
CREATE TRIGGER status_failures_deleted AFTER DELETE ON index_failures
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION status_failures_old();
CREATE TRIGGER status_failures_truncated BEFORE TRUNCATE ON index_failures
    FOR EACH STATEMENT EXECUTE FUNCTION status_failures_truncated();

-- The counts of what exists now. Writers wait for this migration's commit,
-- so that no change slips between the counting and the triggers.
LOCK TABLE products, sync_outbox, index_state, index_failures IN SHARE MODE;
INSERT INTO status_deltas (products, outbox) VALUES ((SELECT count(*) FROM products), (SELECT count(*) FROM sync_outbox));
SELECT status_track(model) FROM (
    SELECT model FROM vector_indexes UNION SELECT DISTINCT model FROM index_state
    UNION SELECT DISTINCT model FROM index_failures
) m;

-- Grants for the per-service roles (005_roles): each role's writes fire the
-- triggers (serve: products; pelican: the outbox; emu: index_state and
-- failures); serve and emu fold the changes into the counts; serve reads
-- them for status.
GRANT INSERT ON status_changes, status_deltas TO refarch_serve, refarch_pelican, refarch_emu;
GRANT SELECT, INSERT, UPDATE, DELETE ON status_changes, status_deltas, status_pending, status_counts
    TO refarch_serve, refarch_emu;
GRANT SELECT ON vector_indexes TO refarch_serve;
