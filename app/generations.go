package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/refarch/refarch/embedding"
	"github.com/refarch/refarch/generations"
	"github.com/refarch/refarch/vectorstore"
	"github.com/refarch/refarch/vectorstore/pgvectorstore"
)

// firstGeneration is the generation the configuration describes: the
// first one of an empty database (or of one indexed before generations
// existed, whose index it adopts: same name, table and namespace), and the
// default of `refarch index create`.
func firstGeneration(cfg Config, info embedding.Info) generations.Generation {
	g := generations.Generation{Name: info.Model, Embedder: cfg.Embedder, Model: info.Model, Dims: info.Dimension,
		Options: embedderOptions(cfg), Store: cfg.VectorStore}
	g.Target = storeTarget(cfg, g.Store, g.Name, g.Dims)
	if g.Store == generations.StorePinecone && cfg.PineconeNamespace != "" {
		g.Target = cfg.PineconeIndex + "/" + cfg.PineconeNamespace
	}
	return g
}

// embedderOptions are the settings that make the model what it is, kept
// with a generation; hosts, folders and secrets stay with each process.
func embedderOptions(cfg Config) map[string]string {
	if cfg.Embedder == "ollama" {
		return map[string]string{"ollama_model": cfg.OllamaModel}
	}
	return nil
}

// storeTarget names where a generation's vectors live: the pgvector table,
// or the Pinecone index and namespace.
func storeTarget(cfg Config, store, name string, dims int) string {
	if store == generations.StorePinecone {
		return cfg.PineconeIndex + "/" + name
	}
	return pgvectorstore.TableName(name, dims)
}

// activeGeneration makes sure a generation exists (creating the first from
// cfg on an empty database) and returns the active one.
func activeGeneration(ctx context.Context, cfg Config, pool *pgxpool.Pool) (generations.Generation, error) {
	if g, err := generations.GetActive(ctx, pool); err == nil {
		return g, nil
	}
	info, err := DescribeEmbedder(ctx, cfg)
	if err != nil {
		return generations.Generation{}, err
	}
	return generations.EnsureFirst(ctx, pool, firstGeneration(cfg, info))
}

// opened is a generation's embedder and store, opened once per process
// and shared by its roles (in serve --all, search embeds queries with the
// very embedder emu indexes with).
type opened struct {
	emb   embedding.Embedder
	store vectorstore.Store
}

// genOpener opens the embedder and store of generations with this
// process's hosts, folders and credentials, once per generation.
type genOpener struct {
	cfg  Config
	log  *slog.Logger
	pool *pgxpool.Pool
	mu   sync.Mutex
	open map[string]opened
}

func newGenOpener(cfg Config, pool *pgxpool.Pool, log *slog.Logger) *genOpener {
	return &genOpener{cfg: cfg, pool: pool, log: log, open: map[string]opened{}}
}

// Open returns g's embedder and store, opening them on first use. It fails
// when this process lacks what g needs (the model's files, a server, the
// store's credentials), or when what it opened is not g's model.
func (o *genOpener) Open(ctx context.Context, g generations.Generation) (embedding.Embedder, vectorstore.Store, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	key := generationKey(g)
	if op, ok := o.open[key]; ok {
		return op.emb, op.store, nil
	}
	emb, err := embedding.Open(ctx, embedding.Options{Name: g.Embedder, ModelDir: o.cfg.ModelDir, OllamaHost: o.cfg.OllamaHost,
		OllamaModel: g.Options["ollama_model"], HashDim: g.Dims})
	if err != nil {
		return nil, nil, fmt.Errorf("generation %s: %w", g.Name, err)
	}
	if emb.Model() != g.Model || emb.Dimension() != g.Dims {
		return nil, nil, fmt.Errorf("generation %s wants model %s (%d dimensions), this process's %s embedder gives %s (%d)",
			g.Name, g.Model, g.Dims, g.Embedder, emb.Model(), emb.Dimension())
	}
	store, err := openGenerationStore(ctx, o.cfg, o.pool, g, o.log)
	if err != nil {
		return nil, nil, fmt.Errorf("generation %s: %w", g.Name, err)
	}
	o.open[key] = opened{emb, store}
	return emb, store, nil
}

func (o *genOpener) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for name, op := range o.open {
		op.store.Close()
		delete(o.open, name)
	}
}

// openGenerationStore opens g's vector store, creating its table or
// Pinecone index when it does not exist yet.
func openGenerationStore(ctx context.Context, cfg Config, pool *pgxpool.Pool, g generations.Generation, log *slog.Logger) (vectorstore.Store, error) {
	c := cfg
	c.VectorStore = g.Store
	switch g.Store {
	case generations.StorePgvector:
	case generations.StorePinecone:
		if cfg.PineconeAPIKey == "" {
			return nil, fmt.Errorf("vector store %s: this process has no Pinecone API key (REFARCH_PINECONE_API_KEY)", g.StoreTarget())
		}
		index, ns, ok := strings.Cut(g.Target, "/")
		if !ok {
			return nil, fmt.Errorf("pinecone target %q: want index/namespace", g.Target)
		}
		if index != cfg.PineconeIndex {
			c.PineconeIndexHost = "" // the host override names the configured index only
		}
		c.PineconeIndex, c.PineconeNamespace = index, ns
	default:
		return nil, fmt.Errorf("vector store %q is not available in this build", g.Store)
	}
	store, err := OpenVectors(ctx, c, pool, embedding.Info{Model: g.Name, Dimension: g.Dims})
	if err != nil {
		return nil, err
	}
	if ps, ok := store.(*pgvectorstore.Store); ok {
		ps.SetBuildOptions(pgvectorstore.BuildOptions{StallTimeout: cfg.IndexBuildStallTimeout, Log: log})
		ps.SetSearchOptions(pgvectorstore.SearchOptions{Timeout: cfg.SearchTimeout})
	}
	return store, nil
}

// generationKey tells a generation from a later one of the same name (one
// created after the first was dropped).
func generationKey(g generations.Generation) string {
	return g.Name + "@" + g.CreatedAt.UTC().Format(time.RFC3339Nano)
}
