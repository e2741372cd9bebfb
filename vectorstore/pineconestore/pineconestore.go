package pineconestore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/pinecone-io/go-pinecone/v5/pinecone"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/refarch/refarch/internal/backoff"
	"github.com/refarch/refarch/internal/quota"
	"github.com/refarch/refarch/vectormeta"
	"github.com/refarch/refarch/vectorstore"
)

// Service limits for one request.
const (
	maxVectorsPerRequest = 1000
	// maxRequestBytes stays under Pinecone's 2 MiB upsert limit with room for
	// the request envelope; sizes are estimated from the proto encoding.
	maxRequestBytes = 2_000_000
	maxTopK         = 10000
	updateWorkers   = 8
	// upsertWorkers bounds the upsert requests of one Upsert in flight:
	// at Pinecone's tens of milliseconds a request, a few keep a large
	// write near the serverless limit of 100 upsert requests/s per
	// namespace without going far past it.
	upsertWorkers = 4
)

// Options configures the store. IndexName, Dimension and APIKey are
// required; the rest have defaults.
type Options struct {
	APIKey      string
	ControlHost string // control plane base URL; empty for Pinecone's own
	IndexName   string
	// Namespace keeps models apart inside one index; it defaults to Model.
	Namespace string
	Model     string
	Dimension int
	Cloud     string // serverless cloud for a new index; default "aws"
	Region    string // default "us-east-1"
	// IndexHost skips the describe/create step when the data plane host is
	// known. A host without a scheme is dialed with TLS unless ControlHost
	// is plain http (a local stand-in), in which case it is dialed in
	// plaintext too.
	IndexHost string
	Metric    string // only "cosine" is supported; default "cosine"

	Retry        Retry
	ReadyTimeout time.Duration // how long to wait for a new index; default 5m
	PollInterval time.Duration // between readiness checks; default 2s
	Logger       *slog.Logger
}

// Retry bounds the backoff for rate limits and server errors. Each wait is
// drawn uniformly from [d/2, d] where d doubles from BaseDelay up to
// MaxDelay, so replicas that were throttled together do not retry together.
type Retry struct {
	MaxAttempts int           // default 8
	BaseDelay   time.Duration // default 200ms
	MaxDelay    time.Duration // default 10s
}

func (o *Options) defaults() {
	if o.Namespace == "" {
		o.Namespace = o.Model
	}
	if o.Cloud == "" {
		o.Cloud = "aws"
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.Metric == "" {
		o.Metric = "cosine"
	}
	if o.Retry.MaxAttempts == 0 {
		o.Retry.MaxAttempts = 8
	}
	if o.Retry.BaseDelay == 0 {
		o.Retry.BaseDelay = 200 * time.Millisecond
	}
	if o.Retry.MaxDelay == 0 {
		o.Retry.MaxDelay = 10 * time.Second
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 5 * time.Minute
	}
	if o.PollInterval == 0 {
		o.PollInterval = 2 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports every problem with the options at once.
func (o Options) Validate() error {
	var errs []error
	if o.APIKey == "" {
		errs = append(errs, errors.New("pinecone API key is empty"))
	}
	if o.IndexName == "" {
		errs = append(errs, errors.New("pinecone index name is empty"))
	}
	if o.Namespace == "" && o.Model == "" {
		errs = append(errs, errors.New("pinecone namespace and model are both empty"))
	}
	if o.Dimension < 1 || o.Dimension > 20000 {
		errs = append(errs, fmt.Errorf("pinecone dimension %d outside 1..20000", o.Dimension))
	}
	if o.Metric != "" && o.Metric != "cosine" {
		errs = append(errs, fmt.Errorf("pinecone metric %q: scores are cosine similarities, only cosine is supported", o.Metric))
	}
	if o.Retry.MaxAttempts < 0 || o.Retry.BaseDelay < 0 || o.Retry.MaxDelay < 0 {
		errs = append(errs, errors.New("pinecone retry settings must not be negative"))
	}
	return errors.Join(errs...)
}

// Store is a vectorstore.Store on one namespace of a Pinecone index.
type Store struct {
	opts Options
	conn *pinecone.IndexConnection
	log  *slog.Logger
}

var _ vectorstore.Store = (*Store)(nil)

// New connects to the index, creating it (serverless, cosine, opts.Dimension)
// when it does not exist and waiting until it is ready, so that nothing is
// upserted into an index that is not there yet. An existing index with
// another dimension or metric is an error: its vectors could not be compared.
func New(ctx context.Context, opts Options) (*Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("open pinecone store: %w", err)
	}
	opts.defaults()
	s := &Store{opts: opts, log: opts.Logger}
	client, err := pinecone.NewClient(pinecone.NewClientParams{ApiKey: opts.APIKey, Host: opts.ControlHost, SourceTag: "refarch"})
	if err != nil {
		return nil, fmt.Errorf("open pinecone client: %w", err)
	}
	host := opts.IndexHost
	if host == "" {
		if host, err = s.ensureIndex(ctx, client); err != nil {
			return nil, err
		}
	}
	if !strings.Contains(host, "://") && strings.HasPrefix(opts.ControlHost, "http://") {
		host = "http://" + host
	}
	s.conn, err = client.Index(pinecone.NewIndexConnParams{Host: host, Namespace: opts.Namespace})
	if err != nil {
		return nil, fmt.Errorf("connect to pinecone index %s at %s: %w", opts.IndexName, host, err)
	}
	return s, nil
}

func httpStatus(err error) int {
	var pe *pinecone.PineconeError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return 0
}

func (s *Store) ensureIndex(ctx context.Context, client *pinecone.Client) (string, error) {
	name := s.opts.IndexName
	var idx *pinecone.Index
	err := s.retry(ctx, "describe index", func(ctx context.Context) error {
		var err error
		idx, err = client.DescribeIndex(ctx, name)
		if httpStatus(err) == http.StatusNotFound {
			idx, err = nil, nil
		}
		return err
	})
	if err != nil {
		return "", fmt.Errorf("describe pinecone index %s: %w", name, err)
	}
	if idx == nil {
		s.log.InfoContext(ctx, "creating pinecone index", "index", name, "dimension", s.opts.Dimension, "cloud", s.opts.Cloud, "region", s.opts.Region)
		dim := int32(s.opts.Dimension)
		metric := pinecone.Cosine
		err = s.retry(ctx, "create index", func(ctx context.Context) error {
			_, err := client.CreateServerlessIndex(ctx, &pinecone.CreateServerlessIndexRequest{
				Name: name, Cloud: pinecone.Cloud(s.opts.Cloud), Region: s.opts.Region, Metric: &metric, Dimension: &dim,
			})
			if httpStatus(err) == http.StatusConflict { // another replica won the race
				return nil
			}
			return err
		})
		if err != nil {
			return "", fmt.Errorf("create pinecone index %s: %w", name, err)
		}
	}
	deadline := time.Now().Add(s.opts.ReadyTimeout)
	for {
		if idx != nil {
			if err := s.checkIndex(idx); err != nil {
				return "", err
			}
			if idx.Status != nil && idx.Status.Ready && idx.Host != "" {
				return idx.Host, nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("wait for pinecone index %s: not ready after %s", name, s.opts.ReadyTimeout)
		}
		if idx != nil {
			s.log.InfoContext(ctx, "waiting for pinecone index", "index", name)
			if !backoff.Sleep(ctx, s.opts.PollInterval) {
				return "", fmt.Errorf("wait for pinecone index %s: %w", name, ctx.Err())
			}
		}
		err := s.retry(ctx, "describe index", func(ctx context.Context) error {
			var err error
			idx, err = client.DescribeIndex(ctx, name)
			return err
		})
		if err != nil {
			return "", fmt.Errorf("describe pinecone index %s: %w", name, err)
		}
	}
}

func (s *Store) checkIndex(idx *pinecone.Index) error {
	var problems []string
	if idx.Dimension == nil || int(*idx.Dimension) != s.opts.Dimension {
		got := "none"
		if idx.Dimension != nil {
			got = fmt.Sprint(*idx.Dimension)
		}
		problems = append(problems, fmt.Sprintf("dimension %s, the embedder makes %d", got, s.opts.Dimension))
	}
	if string(idx.Metric) != s.opts.Metric {
		problems = append(problems, fmt.Sprintf("metric %q, want %q", idx.Metric, s.opts.Metric))
	}
	if len(problems) > 0 {
		return fmt.Errorf("pinecone index %s exists with %s: use another index name or delete it", idx.Name, strings.Join(problems, " and "))
	}
	return nil
}

// Close closes the gRPC connection.
func (s *Store) Close() error { return s.conn.Close() }

// Name describes the backend, index and namespace.
func (s *Store) Name() string { return "pinecone:" + s.opts.IndexName + "/" + s.opts.Namespace }

// retryable reports whether a failed call may succeed later: rate limits
// (gRPC ResourceExhausted, HTTP 429) and server-side failures.
func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	if st, ok := status.FromError(err); ok && st.Code() != codes.OK && st.Code() != codes.Unknown {
		switch st.Code() {
		case codes.ResourceExhausted, codes.Unavailable, codes.Internal, codes.Aborted, codes.DeadlineExceeded:
			return true
		}
		return false
	}
	if c := httpStatus(err); c != 0 {
		return c == http.StatusTooManyRequests || c >= 500
	}
	return errors.Is(err, context.DeadlineExceeded) // a per-call timeout, the caller's ctx is alive
}

// storeWide reports whether a failed call failed for a reason that is
// about the index or the project rather than the vectors sent: the API key
// is refused or lacks permission, the index is gone or not ready.
func storeWide(err error) bool {
	if st, ok := status.FromError(err); ok && st.Code() != codes.OK && st.Code() != codes.Unknown {
		switch st.Code() {
		case codes.Unauthenticated, codes.PermissionDenied, codes.NotFound, codes.FailedPrecondition:
			return true
		}
		return false
	}
	switch httpStatus(err) {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusPreconditionFailed:
		return true
	}
	return false
}

// throttled reports whether err is a rate limit (429) rather than a
// server failure.
func throttled(err error) bool {
	if st, ok := status.FromError(err); ok && st.Code() == codes.ResourceExhausted {
		return true
	}
	return httpStatus(err) == http.StatusTooManyRequests
}

// retry runs call until it succeeds, fails permanently, runs out of attempts
// or ctx ends. Exhausted retries are marked vectorstore.ErrTransient so the
// caller can back off at its own level.
func (s *Store) retry(ctx context.Context, what string, call func(context.Context) error) error {
	r := s.opts.Retry
	for attempt := 1; ; attempt++ {
		err := call(ctx)
		if err == nil {
			return nil
		}
		if !retryable(ctx, err) {
			if storeWide(err) {
				return vectorstore.Unavailable(err)
			}
			return err
		}
		if attempt >= r.MaxAttempts {
			if throttled(err) {
				err = &quota.Error{Quota: "pinecone " + what + " rate", Err: err}
			}
			return vectorstore.Transient(fmt.Errorf("giving up after %d attempts: %w", attempt, err))
		}
		wait := backoff.Delay(attempt-1, r.BaseDelay, r.MaxDelay)
		s.log.WarnContext(ctx, "pinecone call failed, retrying", "call", what, "attempt", attempt, "wait", wait, "err", err)
		if !backoff.Sleep(ctx, wait) {
			return ctx.Err()
		}
	}
}

// metaStruct stores the metadata as fields; ids and versions are numbers
// (exact up to 2^53) so that filters can compare them.
func metaStruct(m vectormeta.Metadata) *structpb.Struct {
	return &structpb.Struct{Fields: map[string]*structpb.Value{
		"product_id":   structpb.NewNumberValue(float64(m.ProductID)),
		"version":      structpb.NewNumberValue(float64(m.Version)),
		"content_hash": structpb.NewStringValue(m.ContentHash),
		"model":        structpb.NewStringValue(m.Model),
		"category":     structpb.NewStringValue(m.Category),
		"price":        structpb.NewNumberValue(m.Price),
	}}
}

func metaFrom(st *structpb.Struct) vectormeta.Metadata {
	if st == nil {
		return vectormeta.Metadata{}
	}
	f := st.GetFields()
	return vectormeta.Metadata{
		ProductID:   int64(f["product_id"].GetNumberValue()),
		Version:     int64(f["version"].GetNumberValue()),
		ContentHash: f["content_hash"].GetStringValue(),
		Model:       f["model"].GetStringValue(),
		Category:    f["category"].GetStringValue(),
		Price:       f["price"].GetNumberValue(),
	}
}

// estimateSize is an upper bound on a vector's share of an upsert request
// in the protobuf encoding: 5 bytes per float with tags, the id, and the
// metadata strings with generous per-field overhead.
func estimateSize(v vectorstore.Vector) int {
	return 16 + len(v.ID) + 4*len(v.Values) + 8 +
		6*24 + len(v.Meta.ContentHash) + len(v.Meta.Model) + len(v.Meta.Category) + 64
}

// Upsert writes vectors in requests of at most 1,000 vectors and about 2 MB.
// Within one call the last vector for an id wins.
func (s *Store) Upsert(ctx context.Context, vectors []vectorstore.Vector) error {
	if len(vectors) == 0 {
		return nil
	}
	vectors, err := vectorstore.LastPerID(vectors, s.opts.Dimension)
	if err != nil {
		return err
	}
	// Requests over the limits are split; the parts go concurrently (ids are
	// unique after LastPerID, so their order does not matter), a few at a
	// time, each retried on 429 within the namespace's request rate.
	var chunks [][]*pinecone.Vector
	var batch []*pinecone.Vector
	size := 0
	for _, v := range vectors {
		n := estimateSize(v)
		if len(batch) == maxVectorsPerRequest || (len(batch) > 0 && size+n > maxRequestBytes) {
			chunks, batch, size = append(chunks, batch), nil, 0
		}
		values := v.Values
		batch = append(batch, &pinecone.Vector{Id: v.ID, Values: &values, Metadata: metaStruct(v.Meta)})
		size += n
	}
	chunks = append(chunks, batch)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(upsertWorkers)
	for _, chunk := range chunks {
		g.Go(func() error {
			err := s.retry(gctx, "upsert", func(ctx context.Context) error {
				_, err := s.conn.UpsertVectors(ctx, chunk)
				return err
			})
			if err != nil {
				return fmt.Errorf("upsert %d vectors into pinecone %s: %w", len(chunk), s.Name(), err)
			}
			return nil
		})
	}
	return g.Wait()
}

// UpdateMetadata sets the metadata fields of each vector with one Update call
// per vector (Pinecone has no batch update by id), a few at a time. The
// values are not sent.
func (s *Store) UpdateMetadata(ctx context.Context, metas []vectormeta.Metadata) error {
	if len(metas) == 0 {
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(updateWorkers)
	for _, m := range vectorstore.LastPerProduct(metas) {
		g.Go(func() error {
			id := vectormeta.VectorID(m.ProductID)
			err := s.retry(gctx, "update", func(ctx context.Context) error {
				err := s.conn.UpdateVector(ctx, &pinecone.UpdateVectorRequest{Id: id, Metadata: metaStruct(m)})
				if status.Code(err) == codes.NotFound {
					return nil // not stored: nothing to update
				}
				return err
			})
			if err != nil {
				return fmt.Errorf("update metadata of vector %s in pinecone %s: %w", id, s.Name(), err)
			}
			return nil
		})
	}
	return g.Wait()
}

// Delete removes vectors in requests of at most 1,000 ids.
func (s *Store) Delete(ctx context.Context, ids []string) error {
	for chunk := range slices.Chunk(ids, maxVectorsPerRequest) {
		err := s.retry(ctx, "delete", func(ctx context.Context) error {
			return s.conn.DeleteVectorsById(ctx, chunk)
		})
		if err != nil {
			return fmt.Errorf("delete %d vectors from pinecone %s: %w", len(chunk), s.Name(), err)
		}
	}
	return nil
}

// filterStruct translates a Filter into Pinecone's filter language, e.g.
// {"$and":[{"category":{"$eq":"books"}},{"price":{"$gte":10,"$lte":20}}]}.
func filterStruct(f vectormeta.Filter) (*structpb.Struct, error) {
	if f.Empty() {
		return nil, nil
	}
	var conds []any
	if f.Category != "" {
		conds = append(conds, map[string]any{"category": map[string]any{"$eq": f.Category}})
	}
	price := map[string]any{}
	if f.MinPrice != nil {
		price["$gte"] = *f.MinPrice
	}
	if f.MaxPrice != nil {
		price["$lte"] = *f.MaxPrice
	}
	if len(price) > 0 {
		conds = append(conds, map[string]any{"price": price})
	}
	var m map[string]any
	if len(conds) == 1 {
		m = conds[0].(map[string]any)
	} else {
		m = map[string]any{"$and": conds}
	}
	st, err := structpb.NewStruct(m)
	if err != nil {
		return nil, fmt.Errorf("build pinecone filter: %w", err)
	}
	return st, nil
}

// Query asks Pinecone for the top k among vectors passing the filter.
func (s *Store) Query(ctx context.Context, values []float32, k int, filter vectormeta.Filter) ([]vectorstore.Match, error) {
	if k <= 0 {
		return nil, nil
	}
	if err := vectorstore.CheckValues(values, s.opts.Dimension); err != nil {
		return nil, fmt.Errorf("query pinecone %s: %w", s.Name(), err)
	}
	f, err := filterStruct(filter)
	if err != nil {
		return nil, err
	}
	var res *pinecone.QueryVectorsResponse
	err = s.retry(ctx, "query", func(ctx context.Context) error {
		var err error
		res, err = s.conn.QueryByVectorValues(ctx, &pinecone.QueryByVectorValuesRequest{
			Vector: values, TopK: uint32(min(k, maxTopK)), MetadataFilter: f, IncludeMetadata: true,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("query pinecone %s: %w", s.Name(), err)
	}
	out := make([]vectorstore.Match, 0, len(res.Matches))
	for _, m := range res.Matches {
		if m == nil || m.Vector == nil {
			continue
		}
		out = append(out, vectorstore.Match{ID: m.Vector.Id, Score: m.Score, Meta: metaFrom(m.Vector.Metadata)})
	}
	return out, nil
}

// Fetch returns the stored vectors among ids, 1,000 ids per request.
func (s *Store) Fetch(ctx context.Context, ids []string) (map[string]vectorstore.Vector, error) {
	out := make(map[string]vectorstore.Vector, len(ids))
	for chunk := range slices.Chunk(ids, maxVectorsPerRequest) {
		var res *pinecone.FetchVectorsResponse
		err := s.retry(ctx, "fetch", func(ctx context.Context) error {
			var err error
			res, err = s.conn.FetchVectors(ctx, chunk)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("fetch %d vectors from pinecone %s: %w", len(chunk), s.Name(), err)
		}
		for id, v := range res.Vectors {
			if v == nil {
				continue
			}
			var values []float32
			if v.Values != nil {
				values = *v.Values
			}
			out[id] = vectorstore.Vector{ID: id, Values: values, Meta: metaFrom(v.Metadata)}
		}
	}
	return out, nil
}

// Count returns the namespace's vector count from DescribeIndexStats. The
// service updates it asynchronously, so it may lag writes by seconds.
func (s *Store) Count(ctx context.Context) (int, error) {
	var res *pinecone.DescribeIndexStatsResponse
	err := s.retry(ctx, "describe index stats", func(ctx context.Context) error {
		var err error
		res, err = s.conn.DescribeIndexStats(ctx)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("count vectors in pinecone %s: %w", s.Name(), err)
	}
	if ns, ok := res.Namespaces[s.opts.Namespace]; ok && ns != nil {
		return int(ns.VectorCount), nil
	}
	return 0, nil
}

// Drop deletes every vector of the store's namespace (an index generation
// being dropped); the index itself may hold other namespaces and is kept.
func (s *Store) Drop(ctx context.Context) error {
	err := s.retry(ctx, "delete all", func(ctx context.Context) error {
		return s.conn.DeleteAllVectorsInNamespace(ctx)
	})
	if err != nil {
		return fmt.Errorf("delete every vector of pinecone %s: %w", s.Name(), err)
	}
	return nil
}
