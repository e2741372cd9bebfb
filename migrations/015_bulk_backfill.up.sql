-- Bulk loads go to the backfill lane as id ranges, not as one outbox row per
-- product. A statement that inserts many products (seed, CSV import, bulk
-- SQL) records the range of ids it inserted in backfill_ranges, in its own
-- transaction, instead of an outbox row per row: a million-row seed no
-- longer writes a million outbox rows that the drain sends on the live lane
-- while the catch-up sends the same products again. Pelican turns each range
-- into catch-up chunks, for every live index generation (roles/pelican),
-- which send on the backfill lane what that generation's index lacks.
-- Smaller statements, updates and deletes keep their outbox rows (live lane).
CREATE TABLE backfill_ranges (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lo         bigint      NOT NULL,
    hi         bigint      NOT NULL,
    products   bigint      NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The ranges each generation's catch-up has taken into a pass (model is the
-- generation's name, as in catchup_passes). A pass over the whole table
-- takes every range committed before it, since it covers them; a pass of
-- ranges is made of the ranges it took.
CREATE TABLE backfill_ranges_taken (
    model    text   NOT NULL,
    range_id bigint NOT NULL REFERENCES backfill_ranges (id) ON DELETE CASCADE,
    PRIMARY KEY (model, range_id)
);

ALTER TABLE catchup_passes ADD COLUMN full_table boolean NOT NULL DEFAULT true;

-- A statement of bulk_insert_rows() rows or more is recorded as a range;
-- smaller ones write an outbox row per product, as updates and deletes do.
CREATE FUNCTION bulk_insert_rows() RETURNS bigint
LANGUAGE sql IMMUTABLE AS 'SELECT 1000::bigint';

CREATE FUNCTION products_after_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    n  bigint;
    lo bigint;
    hi bigint;
BEGIN
    SELECT count(*), min(id), max(id) INTO n, lo, hi FROM inserted;
    IF n = 0 THEN
        RETURN NULL;
    END IF;
    IF n >= bulk_insert_rows() THEN
        INSERT INTO backfill_ranges (lo, hi, products) VALUES (lo, hi, n);
    ELSE
        INSERT INTO sync_outbox (product_id, op, version, new_row)
        SELECT r.id, 'insert', r.version, to_jsonb(r) FROM inserted r ORDER BY r.id;
    END IF;
    PERFORM pg_notify('refarch_outbox', '');
    RETURN NULL;
END $$;

-- The status counters (009_status_counts) count the outbox rows an insert
-- writes: none for a bulk insert.
CREATE OR REPLACE FUNCTION status_products_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO status_changes (product_id) SELECT id FROM new_rows;
    INSERT INTO status_deltas (products, outbox)
    SELECT count(*), CASE WHEN count(*) >= bulk_insert_rows() THEN 0 ELSE count(*) END
    FROM new_rows HAVING count(*) > 0;
    RETURN NULL;
END $$;

DROP TRIGGER products_after_write ON products;
CREATE TRIGGER products_after_write
    AFTER UPDATE OR DELETE ON products
    FOR EACH ROW EXECUTE FUNCTION products_after_write();
CREATE TRIGGER products_after_insert
    AFTER INSERT ON products REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION products_after_insert();

-- Grants for the per-service roles (005_roles): the trigger runs as the user
-- that inserts products (serve); pelican reads the ranges and takes them.
GRANT INSERT ON backfill_ranges TO refarch_serve;
GRANT SELECT ON backfill_ranges TO refarch_pelican;
GRANT SELECT, INSERT, DELETE ON backfill_ranges_taken TO refarch_pelican;
-- emu finishes a generation's drop (014_generation_actions), forgetting the
-- ranges it took with its catch-up passes.
GRANT SELECT, DELETE ON backfill_ranges_taken TO refarch_emu;
