package app

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/refarch/refarch/generations"
	"github.com/refarch/refarch/indexstate"
	"github.com/refarch/refarch/roles/pelican"
	"github.com/refarch/refarch/status"
	"github.com/refarch/refarch/vectorstore/recentvectors"
)

// IndexRow is one generation in `refarch index list`.
type IndexRow = status.Generation

// describeGenerations lists every generation with its progress.
func describeGenerations(ctx context.Context, db indexstate.DB) ([]IndexRow, error) {
	return status.Generations(ctx, db)
}

// IndexList describes every index generation.
func IndexList(ctx context.Context, cfg Config) ([]IndexRow, error) {
	t, err := openTools(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer t.close()
	return describeGenerations(ctx, t.pool)
}

// IndexCreate records a building generation of the embedder and vector
// store cfg describes; pelican starts its backfill as soon as an emu has
// opened its index.
func IndexCreate(ctx context.Context, cfg Config) (generations.Generation, error) {
	if err := cfg.Validate(Roles{Emu: true}); err != nil {
		return generations.Generation{}, err
	}
	t, err := openTools(ctx, cfg)
	if err != nil {
		return generations.Generation{}, err
	}
	defer t.close()
	info, err := DescribeEmbedder(ctx, cfg)
	if err != nil {
		return generations.Generation{}, err
	}
	name, err := generations.FreeName(ctx, t.pool, info.Model)
	if err != nil {
		return generations.Generation{}, err
	}
	g := generations.Generation{Name: name, Embedder: cfg.Embedder, Model: info.Model, Dims: info.Dimension,
		Options: embedderOptions(cfg), Store: cfg.VectorStore, Target: storeTarget(cfg, cfg.VectorStore, name, info.Dimension)}
	if g.Store == generations.StorePinecone {
		// A Pinecone index has one dimension: another dimension needs its
		// own index.
		all, err := generations.List(ctx, t.pool)
		if err != nil {
			return g, err
		}
		for _, o := range all {
			if o.Store == generations.StorePinecone && strings.HasPrefix(o.Target, cfg.PineconeIndex+"/") && o.Dims != g.Dims {
				g.Target = cfg.PineconeIndex + "-" + strconv.Itoa(g.Dims) + "/" + name
				break
			}
		}
	}
	if err := generations.Create(ctx, t.pool, g); err != nil {
		return g, err
	}
	return generations.Get(ctx, t.pool, name)
}

// IndexPromote makes a generation active. Unless force, it refuses one
// that does not hold every row at its current version yet.
func IndexPromote(ctx context.Context, cfg Config, name string, force bool) (generations.Generation, error) {
	t, err := openTools(ctx, cfg)
	if err != nil {
		return generations.Generation{}, err
	}
	defer t.close()
	return promote(ctx, t.pool, name, force)
}

func promote(ctx context.Context, db generations.DB, name string, force bool) (generations.Generation, error) {
	// Complete means the backfill is done: the generation holds every row,
	// last changed before it was created, that the active one holds. Later
	// changes reach every live generation as they flow.
	return generations.Promote(ctx, db, name, force, func(ctx context.Context, tx pgx.Tx) (int64, error) {
		active, err := generations.GetActive(ctx, tx)
		if err != nil {
			return 0, err
		}
		g, err := generations.Get(ctx, tx, name)
		if err != nil {
			return 0, err
		}
		return indexstate.New(tx, name).Lacking(ctx, active.Name, g.CreatedAt)
	})
}

// IndexDrop deletes a generation that is not active: its vectors (the
// pgvector table, or every vector of its Pinecone namespace), its index
// state and its catch-up passes. A drop that fails part-way can be run
// again: the generation stays "dropping" and nobody writes it.
func IndexDrop(ctx context.Context, cfg Config, name string) error {
	t, err := openTools(ctx, cfg)
	if err != nil {
		return err
	}
	defer t.close()
	g, err := generations.MarkDropping(ctx, t.pool, name)
	if err != nil {
		return err
	}
	store, err := openGenerationStore(ctx, cfg, t.pool, g, slog.New(slog.DiscardHandler))
	if err != nil {
		return fmt.Errorf("open the vectors of %s to delete them: %w", name, err)
	}
	defer store.Close()
	d, ok := store.(interface {
		Drop(ctx context.Context) error
	})
	if !ok {
		return fmt.Errorf("drop %s: vector store %s cannot delete its vectors", name, store.Name())
	}
	if err := d.Drop(ctx); err != nil {
		return err
	}
	if err := indexstate.New(t.pool, name).DeleteAll(ctx); err != nil {
		return err
	}
	if err := recentvectors.ForgetModel(ctx, t.pool, name); err != nil {
		return err
	}
	if err := pelican.ForgetCatchup(ctx, t.pool, name); err != nil {
		return err
	}
	return generations.Forget(ctx, t.pool, name)
}
