package emu

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/refarch/refarch/queue"
	"github.com/refarch/refarch/vectormeta"
	"github.com/refarch/refarch/vectorstore"
)

// Queue is the part of a queue (queue.Queue) emu consumes: it receives,
// extends and acknowledges, and reads the depth for its metrics; it never
// sends or redrives.
type Queue interface {
	Name() string
	Receive(ctx context.Context, max int, wait, visibility time.Duration) ([]queue.Message, error)
	Ack(ctx context.Context, receipts []string) error
	Extend(ctx context.Context, receipts []string, visibility time.Duration) error
	Depth(ctx context.Context) (queue.Depth, error)
}

// LiveReceiver is a queue with lanes (queue.Lanes) that can be received
// from on the live lane alone. Emu then keeps one slot for live changes,
// so that an edit waits for no backfill batch, however long the backfill.
type LiveReceiver interface {
	Split() bool
	ReceiveLive(ctx context.Context, max int, wait, visibility time.Duration) ([]queue.Message, error)
	// ReceiveMixed is Receive taking at most maxBackfill messages from the
	// backfill lane, whose messages may be ranges of many products.
	ReceiveMixed(ctx context.Context, max, maxBackfill int, wait, visibility time.Duration) ([]queue.Message, error)
}

// Embedder is the part of an embedder (embedding.Embedder) emu uses.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
	Model() string
}

// Store is the part of a vector store (vectorstore.Store) emu writes with; it
// never queries. A store that is also a BulkIndexer gets its search index
// deferred during bulk loads.
type Store interface {
	Name() string
	Upsert(ctx context.Context, vectors []vectorstore.Vector) error
	UpdateMetadata(ctx context.Context, metas []vectormeta.Metadata) error
	Delete(ctx context.Context, ids []string) error
	Count(ctx context.Context) (int, error)
}

// TxStore is a store whose table is in a Postgres database (pgvector) and
// whose writes can be made in a transaction there (InTx). When that is emu's
// own database, emu writes the vectors in the transaction that records them
// in index_state: the store and index_state then never disagree, and a batch
// costs one commit instead of two.
type TxStore interface {
	Pool() *pgxpool.Pool
	InTx(tx pgx.Tx) vectorstore.Store
}
