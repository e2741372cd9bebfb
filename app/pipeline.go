package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/refarch/refarch/embedding"
	"github.com/refarch/refarch/generations"
	"github.com/refarch/refarch/queue"
	"github.com/refarch/refarch/queue/pgqueue"
	"github.com/refarch/refarch/queue/sqsqueue"
	"github.com/refarch/refarch/roles/emu"
	"github.com/refarch/refarch/roles/pelican"
	"github.com/refarch/refarch/vectorstore"
	"github.com/refarch/refarch/vectorstore/pgvectorstore"
	"github.com/refarch/refarch/vectorstore/pineconestore"
)

// namedRole is a role's blocking Run under its name.
type namedRole struct {
	name string
	run  func(context.Context) error
}

// OpenEmbedder builds the configured embedder.
func OpenEmbedder(ctx context.Context, cfg Config) (embedding.Embedder, error) {
	return embedding.Open(ctx, cfg.embedderOptions())
}

// DescribeEmbedder returns the configured embedder's model id and
// dimension, loading no model where it can (see embedding.Describe).
func DescribeEmbedder(ctx context.Context, cfg Config) (embedding.Info, error) {
	return embedding.Describe(ctx, cfg.embedderOptions())
}

func (cfg Config) embedderOptions() embedding.Options {
	return embedding.Options{Name: cfg.Embedder, ModelDir: cfg.ModelDir,
		OllamaHost: cfg.OllamaHost, OllamaModel: cfg.OllamaModel, HashDim: cfg.HashDim}
}

// OpenQueue builds the configured queue backend with its two lanes (live
// changes and backfill, see queue.Lanes). The returned close func stops its
// background listeners, if any.
func OpenQueue(ctx context.Context, cfg Config, pool *pgxpool.Pool, log *slog.Logger) (*queue.Lanes, func(), error) {
	switch cfg.Queue {
	case "postgres":
		q, closeFn := pgqueue.NewLanes(pool, pgqueue.Options{MaxReceives: cfg.QueueMaxReceives, Logger: log})
		return q, closeFn, nil
	case "sqs":
		opts := sqsqueue.Options{QueueURL: cfg.SQSQueueURL, DLQURL: cfg.SQSDLQURL,
			Endpoint: cfg.SQSEndpoint, Region: cfg.AWSRegion, AccessKeyID: cfg.sqsKeys[0], SecretAccessKey: cfg.sqsKeys[1]}
		live, err := sqsqueue.New(ctx, opts)
		if err != nil {
			return nil, nil, fmt.Errorf("open sqs queue: %w", err)
		}
		if cfg.SQSBackfillQueueURL == "" {
			log.WarnContext(ctx, "no backfill queue configured (REFARCH_SQS_BACKFILL_QUEUE_URL): live changes share the queue with catch-up and repairs and wait behind them")
			return queue.NewLanes(live, nil), func() {}, nil
		}
		opts.QueueURL, opts.DLQURL, opts.Client = cfg.SQSBackfillQueueURL, cfg.SQSBackfillDLQURL, live.Client()
		backfill, err := sqsqueue.New(ctx, opts)
		if err != nil {
			return nil, nil, fmt.Errorf("open sqs backfill queue: %w", err)
		}
		return queue.NewLanes(live, backfill), func() {}, nil
	default:
		return nil, nil, fmt.Errorf("unknown queue backend %q", cfg.Queue)
	}
}

// OpenVectors opens the configured vector store for the model emb
// describes, creating the index (table or Pinecone index) when it does not
// exist yet.
func OpenVectors(ctx context.Context, cfg Config, pool *pgxpool.Pool, emb embedding.Info) (vectorstore.Store, error) {
	switch cfg.VectorStore {
	case "pgvector":
		s, err := pgvectorstore.New(ctx, pool, emb.Model, emb.Dimension)
		if err != nil {
			return nil, err
		}
		s.SetEfSearch(cfg.HNSWEfSearch)
		return s, nil
	case "pinecone":
		// New creates the index (or waits for it to be ready), so emu
		// registers it only once it exists.
		return pineconestore.New(ctx, pineconestore.Options{
			APIKey:      cfg.PineconeAPIKey,
			ControlHost: cfg.PineconeControlHost,
			IndexName:   cfg.PineconeIndex,
			Namespace:   cfg.PineconeNamespace,
			Model:       emb.Model,
			Dimension:   emb.Dimension,
			Cloud:       cfg.PineconeCloud,
			Region:      cfg.PineconeRegion,
			IndexHost:   cfg.PineconeIndexHost,
		})
	default:
		return nil, fmt.Errorf("vector store %q is not available in this build", cfg.VectorStore)
	}
}

// pipelineRoles builds pelican and emu as selected, on the process's shared
// embedder, queue and vector store.
func pipelineRoles(cfg Config, roles Roles, pool *pgxpool.Pool, sh *shared, log *slog.Logger, reg prometheus.Registerer) []namedRole {
	var rs []namedRole
	// SQS takes at most 10 messages a call: pelican and emu make the calls
	// themselves, several at a time. The Postgres queue takes a batch in one.
	callBatch := 0
	if cfg.Queue == "sqs" {
		callBatch = 10
	}
	if roles.Pelican {
		p := pelican.New(pool, sh.q, pelican.Config{
			Model:             sh.active.Name,
			FollowGenerations: true,
			BatchSize:         cfg.PelicanBatchSize,
			PollInterval:      cfg.PelicanPollInterval,
			Ready:             pelican.IndexReady(pool, sh.active.Name),
			SendBatch:         callBatch,
			SendConcurrency:   cfg.SendConcurrency,
		}, log, reg)
		rs = append(rs, namedRole{"pelican", p.Run})
	}
	if roles.Emu {
		e := emu.New(pool, sh.q, nil, nil, emu.Config{
			Concurrency:        cfg.EmuConcurrency,
			Pipeline:           cfg.EmuPipeline,
			BatchSize:          cfg.EmuBatchSize,
			BackfillBatch:      cfg.EmuBackfillBatch,
			Visibility:         cfg.EmuVisibility,
			MaxReceives:        cfg.QueueMaxReceives,
			ReceiveBatch:       callBatch,
			ReceiveConcurrency: cfg.ReceiveConcurrency,
			// A bootstrap of thousands of products into an empty pgvector
			// table builds the HNSW index once at the end instead of
			// inserting into it row by row.
			BulkThreshold: 5000,
		}, log, reg).WithGenerations(emuGenerations{pool, sh.gens})
		rs = append(rs, namedRole{"emu", e.Run})
	}
	return rs
}

// emuGenerations is what emu reads of the generations and how it opens one.
type emuGenerations struct {
	pool *pgxpool.Pool
	gens *genOpener
}

func (g emuGenerations) Live(ctx context.Context) ([]generations.Generation, error) {
	return generations.Live(ctx, g.pool)
}

func (g emuGenerations) Open(ctx context.Context, gen generations.Generation) (emu.Embedder, emu.Store, error) {
	return g.gens.Open(ctx, gen)
}
