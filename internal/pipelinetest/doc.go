// Package pipelinetest holds the end-to-end tests of the sync pipeline's
// guarantees (G1-G8 in docs/architecture.md) and its benchmarks. Everything runs
// for real: Postgres, the Postgres queue, pgvector, pelican and emu, with the
// hash test embedder; faults come from small wrappers around the queue, the
// embedder and the vector store.
package pipelinetest
