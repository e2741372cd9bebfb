-- Full-text search over name and description for hybrid search (package
-- search). An expression index rather than a generated column, so that the
-- products row, and the outbox's copy of it, stay as they were. Queries must
-- use the exact same expression for the planner to pick the index.
CREATE INDEX products_search_idx ON products USING gin ((
    setweight(to_tsvector('english'::regconfig, name), 'A') ||
    setweight(to_tsvector('english'::regconfig, description), 'B')
));
