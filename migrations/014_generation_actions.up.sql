-- Index generations are changed from the status page too (serve, behind
-- the admin token), and a drop asked there is finished by emu, which owns
-- the vector tables and the index's state.
-- serve: promote (the state swap) and mark a generation dropping.
GRANT UPDATE (state, promoted_at, retired_at) ON index_generations TO refarch_serve;
-- emu: forget a dropped generation (its registration, the catch-up passes
-- that backfilled it, and its row; the passes' chunks go by cascade).
GRANT SELECT, DELETE ON catchup_passes TO refarch_emu;
GRANT DELETE ON vector_indexes, index_generations TO refarch_emu;
