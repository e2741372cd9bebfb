-- Outages emu is riding out (package indexstate): a component (the vector
-- store or the embedder) that fails for every product. Emu holds its
-- messages while one lasts, so status shows the outage rather than a growing
-- queue with no explanation. seen_at is refreshed on every failed attempt; a
-- row that is not refreshed (emu stopped or killed meanwhile) goes stale and
-- is no longer reported.
CREATE TABLE index_outages (
    model     text        NOT NULL,
    component text        NOT NULL,
    since     timestamptz NOT NULL DEFAULT now(),
    seen_at   timestamptz NOT NULL DEFAULT now(),
    error     text        NOT NULL,
    PRIMARY KEY (model, component)
);

-- The last version each deleted product id had (its delete's version), so
-- that an id used again (after TRUNCATE ... RESTART IDENTITY or a sequence
-- reset) continues above it: the index, which holds the delete at that
-- version, would otherwise skip the new product as older than what it has.
CREATE TABLE product_tombstones (
    id      bigint PRIMARY KEY,
    version bigint NOT NULL
);

-- What the index and the pending changes already know of ids deleted
-- before this table existed.
INSERT INTO product_tombstones (id, version)
SELECT id, max(version) FROM (
    SELECT s.product_id AS id, s.version FROM index_state s
    WHERE NOT EXISTS (SELECT 1 FROM products p WHERE p.id = s.product_id)
    UNION ALL
    SELECT product_id, version FROM sync_outbox WHERE op = 'delete'
) known GROUP BY id;

CREATE OR REPLACE FUNCTION products_before_write() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    last bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- A new id starts at version 1; a reused one one past its delete.
        DELETE FROM product_tombstones WHERE id = NEW.id RETURNING version INTO last;
        NEW.version := coalesce(last, 0) + 1;
        NEW.created_at := now();
        NEW.updated_at := NEW.created_at;
        RETURN NEW;
    END IF;
    NEW.id := OLD.id;
    NEW.created_at := OLD.created_at;
    IF (NEW.sku, NEW.name, NEW.description, NEW.price, NEW.category)
       IS NOT DISTINCT FROM (OLD.sku, OLD.name, OLD.description, OLD.price, OLD.category) THEN
        NEW.version := OLD.version;
        NEW.updated_at := OLD.updated_at;
    ELSE
        NEW.version := OLD.version + 1;
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION products_after_write() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO sync_outbox (product_id, op, version, new_row)
        VALUES (NEW.id, 'insert', NEW.version, to_jsonb(NEW));
    ELSIF TG_OP = 'UPDATE' THEN
        IF NEW.version = OLD.version THEN
            RETURN NULL;
        END IF;
        INSERT INTO sync_outbox (product_id, op, version, old_row, new_row)
        VALUES (NEW.id, 'update', NEW.version, to_jsonb(OLD), to_jsonb(NEW));
    ELSE
        -- A delete is one version past the last update, so it orders after it.
        INSERT INTO sync_outbox (product_id, op, version, old_row)
        VALUES (OLD.id, 'delete', OLD.version + 1, to_jsonb(OLD));
        INSERT INTO product_tombstones (id, version) VALUES (OLD.id, OLD.version + 1)
        ON CONFLICT (id) DO UPDATE SET version = greatest(product_tombstones.version, excluded.version);
    END IF;
    -- A wake-up only: no payload, so size limits and lost notifications
    -- cannot lose a change; Postgres folds repeats within one transaction.
    PERFORM pg_notify('refarch_outbox', '');
    RETURN NULL;
END $$;

-- TRUNCATE fires no row triggers: queue a delete (and a tombstone) for
-- every row before they go, in the truncating transaction, so the index
-- empties too. The copy of the old row is left out: emu does not need it,
-- and a truncate of a large table should not copy it.
CREATE FUNCTION products_before_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO sync_outbox (product_id, op, version)
    SELECT id, 'delete', version + 1 FROM products;
    INSERT INTO product_tombstones (id, version)
    SELECT id, version + 1 FROM products
    ON CONFLICT (id) DO UPDATE SET version = greatest(product_tombstones.version, excluded.version);
    PERFORM pg_notify('refarch_outbox', '');
    RETURN NULL;
END $$;

CREATE TRIGGER products_before_truncate
    BEFORE TRUNCATE ON products
    FOR EACH STATEMENT EXECUTE FUNCTION products_before_truncate();

-- Grants for the per-service roles (005_roles): the products trigger writes
-- tombstones as the user that changes products (serve); emu records outages
-- and serve's status reads them.
GRANT SELECT, INSERT, UPDATE, DELETE ON product_tombstones TO refarch_serve;
GRANT SELECT, INSERT, UPDATE, DELETE ON index_outages TO refarch_emu;
GRANT SELECT ON index_outages TO refarch_serve;
