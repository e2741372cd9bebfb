-- The product catalog, the change outbox that feeds the sync pipeline, and
-- the record of what the vector index holds.

CREATE TABLE products (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sku         text        NOT NULL UNIQUE CHECK (sku <> ''),
    name        text        NOT NULL CHECK (name <> ''),
    description text        NOT NULL,
    price       numeric(14,2) NOT NULL CHECK (price >= 0),
    category    text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    version     bigint      NOT NULL DEFAULT 1
);

CREATE INDEX products_category_idx ON products (category);

-- Clients never set version or timestamps: an insert starts at version 1 and
-- every update that changes something bumps the version by one. An update
-- that changes nothing keeps the version and writes no outbox row.
CREATE FUNCTION products_before_write() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.version := 1;
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

CREATE TRIGGER products_before_write
    BEFORE INSERT OR UPDATE ON products
    FOR EACH ROW EXECUTE FUNCTION products_before_write();

-- One row per committed change, written in the changing transaction, so a
-- change can never be lost between commit and queue (NOTIFY alone can).
CREATE TABLE sync_outbox (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id bigint      NOT NULL,
    op         text        NOT NULL CHECK (op IN ('insert', 'update', 'delete')),
    version    bigint      NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    old_row    jsonb,
    new_row    jsonb
);

CREATE FUNCTION products_after_write() RETURNS trigger
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
    END IF;
    -- A wake-up only: no payload, so size limits and lost notifications
    -- cannot lose a change; Postgres folds repeats within one transaction.
    PERFORM pg_notify('refarch_outbox', '');
    RETURN NULL;
END $$;

CREATE TRIGGER products_after_write
    AFTER INSERT OR UPDATE OR DELETE ON products
    FOR EACH ROW EXECUTE FUNCTION products_after_write();

-- What the vector index holds for each product, per embedding model. Emu
-- writes it after each vector write; status and catch-up are SQL over it.
CREATE TABLE index_state (
    model        text        NOT NULL,
    product_id   bigint      NOT NULL,
    version      bigint      NOT NULL,
    content_hash text        NOT NULL,
    deleted      boolean     NOT NULL DEFAULT false,
    changed_at   timestamptz NOT NULL,
    indexed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model, product_id)
);
