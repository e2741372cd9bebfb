package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/refarch/refarch/generations"
	"github.com/refarch/refarch/indexstate"
	"github.com/refarch/refarch/roles/pelican"
	"github.com/refarch/refarch/roles/serve"
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

// CreateOptions are `refarch index create`'s own flags.
type CreateOptions struct {
	// AutoPromote makes pelican promote the generation once it is complete.
	AutoPromote bool
	// IfMissing creates nothing when a live generation already has this
	// embedder, model, dimensions and store (a deploy runs it every time).
	IfMissing bool
}

// IndexCreate records a building generation of the embedder and vector
// store cfg describes; pelican starts its backfill as soon as an emu has
// opened its index, and with AutoPromote promotes it once it is complete.
// The second result is false when IfMissing found the generation there
// already (and returns it).
func IndexCreate(ctx context.Context, cfg Config, o CreateOptions) (generations.Generation, bool, error) {
	if err := cfg.Validate(Roles{Emu: true}); err != nil {
		return generations.Generation{}, false, err
	}
	t, err := openTools(ctx, cfg)
	if err != nil {
		return generations.Generation{}, false, err
	}
	defer t.close()
	if o.IfMissing {
		info, err := DescribeEmbedder(ctx, cfg)
		if err != nil {
			return generations.Generation{}, false, err
		}
		// On an empty database the configuration is the first generation,
		// as the roles would make it.
		if _, err := generations.EnsureFirst(ctx, t.pool, firstGeneration(cfg, info)); err != nil {
			return generations.Generation{}, false, err
		}
		live, err := generations.Live(ctx, t.pool)
		if err != nil {
			return generations.Generation{}, false, err
		}
		for _, g := range live {
			if g.Embedder == cfg.Embedder && g.Model == info.Model && g.Dims == info.Dimension && g.Store == cfg.VectorStore &&
				g.Options["ollama_model"] == embedderOptions(cfg)["ollama_model"] {
				return g, false, nil
			}
		}
	}
	g, err := createGeneration(ctx, cfg, t.pool, o.AutoPromote)
	return g, err == nil, err
}

// createGeneration is IndexCreate on an open pool (serve's status page
// creates generations too).
func createGeneration(ctx context.Context, cfg Config, db generations.DB, autoPromote bool) (generations.Generation, error) {
	info, err := DescribeEmbedder(ctx, cfg)
	if err != nil {
		return generations.Generation{}, err
	}
	name, err := generations.FreeName(ctx, db, info.Model)
	if err != nil {
		return generations.Generation{}, err
	}
	g := generations.Generation{Name: name, Embedder: cfg.Embedder, Model: info.Model, Dims: info.Dimension,
		Options: embedderOptions(cfg), Store: cfg.VectorStore, Target: storeTarget(cfg, cfg.VectorStore, name, info.Dimension),
		AutoPromote: autoPromote}
	if g.Store == generations.StorePinecone {
		// A Pinecone index has one dimension: another dimension needs its
		// own index.
		all, err := generations.List(ctx, db)
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
	// A building generation on a database without any would leave it
	// without an active one: there, the new generation is the first.
	if _, err := generations.GetActive(ctx, db); errors.Is(err, generations.ErrNone) {
		return generations.EnsureFirst(ctx, db, g)
	}
	if err := generations.Create(ctx, db, g); err != nil {
		return g, err
	}
	return generations.Get(ctx, db, name)
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
	return generations.PromoteComplete(ctx, db, name, force)
}

// IndexDrop deletes a generation that is not active: its vectors (the
// pgvector table, or every vector of its Pinecone namespace), its index
// state and its catch-up passes. A drop that fails part-way can be run
// again, and emu finishes it meanwhile: the generation stays "dropping"
// and nobody writes it.
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
	return finishDrop(ctx, cfg, t.pool, g, slog.New(slog.DiscardHandler))
}

// finishDrop deletes what a dropping generation leaves: its vectors, its
// index state, recent vectors and catch-up passes, then its row. Every step
// can be run again, by several processes at once.
func finishDrop(ctx context.Context, cfg Config, pool *pgxpool.Pool, g generations.Generation, log *slog.Logger) error {
	name := g.Name
	store, err := openGenerationStore(ctx, cfg, pool, g, log)
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
	if err := indexstate.New(pool, name).DeleteAll(ctx); err != nil {
		return err
	}
	if err := recentvectors.ForgetModel(ctx, pool, name); err != nil {
		return err
	}
	if err := pelican.ForgetCatchup(ctx, pool, name); err != nil {
		return err
	}
	return generations.Forget(ctx, pool, name)
}

// finishDrops runs in every emu process: it finishes the drops asked from
// the status page (serve only marks a generation dropping: emu owns the
// vector tables and the index's state), and any CLI drop that stopped
// part-way, until ctx ends.
func finishDrops(ctx context.Context, cfg Config, pool *pgxpool.Pool, log *slog.Logger) error {
	failures := map[string]int{}
	check := func(ctx context.Context) {
		all, err := generations.List(ctx, pool)
		if err != nil {
			if ctx.Err() == nil {
				log.WarnContext(ctx, "read index generations", "err", err)
			}
			return
		}
		for _, g := range all {
			if g.State != generations.Dropping {
				continue
			}
			if err := finishDrop(ctx, cfg, pool, g, log); err != nil {
				if ctx.Err() == nil {
					failures[g.Name]++
					log.ErrorContext(ctx, "finish dropping index generation; retrying", "generation", g.Name, "err", err, "attempt", failures[g.Name])
				}
				continue
			}
			delete(failures, g.Name)
			log.InfoContext(ctx, "index generation dropped", "generation", g.Name)
		}
	}
	check(ctx)
	generations.Watch(ctx, pool, 0, log, check)
	return nil
}

// indexAdmin is the status page's create, promote and drop (serve's
// IndexAdmin), with serve's own database user.
type indexAdmin struct {
	cfg  Config
	pool *pgxpool.Pool
}

var _ serve.IndexAdmin = indexAdmin{}

func refused(code int, format string, args ...any) error {
	return &serve.IndexRefusal{Code: code, Reason: fmt.Sprintf(format, args...)}
}

func (a indexAdmin) Defaults() serve.IndexSpec {
	return serve.IndexSpec{Embedder: a.cfg.Embedder, HashDim: a.cfg.HashDim, OllamaModel: a.cfg.OllamaModel}
}

func (a indexAdmin) Create(ctx context.Context, spec serve.IndexSpec) (string, error) {
	c := a.cfg
	c.Embedder = spec.Embedder
	switch spec.Embedder {
	case "use":
	case "hash":
		if spec.HashDim < 2 || spec.HashDim > 4096 {
			return "", refused(http.StatusBadRequest, "Dimensions must be between 2 and 4096 for the hash embedder (got %d).", spec.HashDim)
		}
		c.HashDim = spec.HashDim
	case "ollama":
		if spec.OllamaModel == "" {
			return "", refused(http.StatusBadRequest, "Name the Ollama model (for example nomic-embed-text).")
		}
		c.OllamaModel = spec.OllamaModel
	default:
		return "", refused(http.StatusBadRequest, "Embedder %q is not one of use, hash or ollama.", spec.Embedder)
	}
	if _, err := DescribeEmbedder(ctx, c); err != nil {
		return "", refused(http.StatusUnprocessableEntity, "This server cannot open the %s embedder, so neither could the workers like it: %v", spec.Embedder, err)
	}
	g, err := createGeneration(ctx, c, a.pool, spec.AutoPromote)
	if err != nil {
		return "", err
	}
	return g.Name, nil
}

func (a indexAdmin) Promote(ctx context.Context, name string, force bool) error {
	_, err := promote(ctx, a.pool, name, force)
	var inc generations.IncompleteError
	switch {
	case errors.As(err, &inc):
		return refused(http.StatusConflict, "Generation %s is incomplete: it lacks %d rows the active generation holds. Wait for its backfill, or tick \"even if incomplete\" to promote it anyway.", inc.Name, inc.Missing)
	case errors.Is(err, indexstate.ErrNoIndex):
		return refused(http.StatusConflict, "Generation %s has no index yet: no emu has opened it (does every emu have its embedder?), so even a forced promotion is refused.", name)
	case errors.Is(err, generations.ErrNotFound), errors.Is(err, generations.ErrDropping):
		return refused(http.StatusConflict, "Cannot promote %s: %v.", name, err)
	}
	return err
}

func (a indexAdmin) Drop(ctx context.Context, name string) error {
	_, err := generations.MarkDropping(ctx, a.pool, name)
	switch {
	case errors.Is(err, generations.ErrActive):
		return refused(http.StatusConflict, "Generation %s is the active one and cannot be dropped: promote another one first.", name)
	case errors.Is(err, generations.ErrNotFound):
		return refused(http.StatusConflict, "Cannot drop %s: %v.", name, err)
	}
	return err
}
