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
