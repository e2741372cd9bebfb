-- Status reads (package indexstate, summary.go) find the oldest stale or
-- missing product by walking status_pending in age order past the products
-- whose change is not folded yet; this index answers "is it logged?" for
-- each, so the walk costs the log's length, not its square.
CREATE INDEX status_changes_product_idx ON status_changes (product_id);
