package cloudsim

import (
	"context"
	"fmt"

	"github.com/refarch/refarch/internal/quota"
	"github.com/refarch/refarch/vectormeta"
	"github.com/refarch/refarch/vectorstore"
)

// Pinecone limits of one request.
const (
	PineconeMaxUpsertVectors = 1000
	PineconeMaxRequestBytes  = 2 << 20
	PineconeMaxMetadataBytes = 40 << 10
	PineconeMaxIDsPerRequest = 1000
)

// PineconeProfile is the latency and quota of each Pinecone serverless data
// plane action. Upsert is limited both in requests and in bytes per second
// (UpsertBytes); Update counts records, the others requests.
type PineconeProfile struct {
	Upsert      Action
	UpsertBytes Rate
	Update      Action
	Delete      Action
	Query       Action
	Fetch       Action
	Stats       Action
}

// PineconeServerless is a serverless namespace reached from the index's
// region, with upserts and queries of latency lat and metadata updates,
// deletes and fetches of the same latency.
func PineconeServerless(lat Latency) PineconeProfile {
	per := func(n float64) Action { return Action{Latency: lat, Quota: Rate{PerSecond: n}} }
	return PineconeProfile{
		Upsert:      per(100),
		UpsertBytes: Rate{PerSecond: 50e6},
		Update:      per(100),
		Delete:      per(100),
		Query:       per(100),
		Fetch:       per(100),
		Stats:       per(100),
	}
}

// Store is a vectorstore.Store that behaves like a Pinecone serverless
// namespace: one request per call (callers keep within the request limits,
// which are refused as Pinecone refuses them: a permanent error), its
// latency, and 429s over the quotas, marked vectorstore.ErrTransient so that
// callers back off.
type Store struct {
	inner vectorstore.Store
	p     PineconeProfile
	sim   *sim

	upsert, upsertBytes, update, del, query, fetch, stats *bucket
}

var _ vectorstore.Store = (*Store)(nil)

// NewStore wraps inner; seed makes the latencies repeatable.
func NewStore(inner vectorstore.Store, p PineconeProfile, seed uint64) *Store {
	return &Store{inner: inner, p: p, sim: newSim(seed),
		upsert: newBucket(p.Upsert.Quota), upsertBytes: newBucket(p.UpsertBytes), update: newBucket(p.Update.Quota),
		del: newBucket(p.Delete.Quota), query: newBucket(p.Query.Quota), fetch: newBucket(p.Fetch.Quota), stats: newBucket(p.Stats.Quota)}
}

// Name describes the wrapped backend.
func (s *Store) Name() string { return s.inner.Name() + "+pinecone-sim" }

// Close closes the wrapped store.
func (s *Store) Close() error { return s.inner.Close() }

// throttled marks a quota refusal as Pinecone's 429, which is transient;
// a cancelled call is returned as is.
func throttled(err error) error {
	if _, ok := quota.Of(err); ok {
		return vectorstore.Transient(fmt.Errorf("429 TOO_MANY_REQUESTS: %w", err))
	}
	return err
}

func quotaErr(name string, b *bucket) error {
	return &quota.Error{Quota: name, Err: fmt.Errorf("over %g/s", b.rate.PerSecond)}
}

// vectorBytes estimates a vector's share of an upsert request as the
// protobuf encoding sizes it.
func vectorBytes(v vectorstore.Vector) int {
	return len(v.ID) + 5*len(v.Values) + metadataBytes(v.Meta) + 16
}

func metadataBytes(m vectormeta.Metadata) int {
	return len(m.ContentHash) + len(m.Model) + len(m.Category) + 6*24
}

// Upsert is one upsert request.
func (s *Store) Upsert(ctx context.Context, vectors []vectorstore.Vector) error {
	if len(vectors) == 0 {
		return nil
	}
	if len(vectors) > PineconeMaxUpsertVectors {
		return fmt.Errorf("upsert %d vectors: INVALID_ARGUMENT: at most %d vectors per upsert", len(vectors), PineconeMaxUpsertVectors)
	}
	bytes := 0
	for _, v := range vectors {
		if m := metadataBytes(v.Meta); m > PineconeMaxMetadataBytes {
			return fmt.Errorf("upsert vector %s: INVALID_ARGUMENT: metadata of %d bytes, at most %d", v.ID, m, PineconeMaxMetadataBytes)
		}
		bytes += vectorBytes(v)
	}
	if bytes > PineconeMaxRequestBytes {
		return fmt.Errorf("upsert %d vectors: INVALID_ARGUMENT: request of %d bytes, at most %d", len(vectors), bytes, PineconeMaxRequestBytes)
	}
	if err := s.sim.call(ctx, s.p.Upsert, s.upsert, 1, "pinecone upsert requests/s per namespace"); err != nil {
		return throttled(err)
	}
	if !s.upsertBytes.take(float64(bytes)) {
		return throttled(quotaErr("pinecone upsert bytes/s per namespace", s.upsertBytes))
	}
	return s.inner.Upsert(ctx, vectors)
}

// UpdateMetadata is one update request per vector, as Pinecone has no
// batch update by id; they are charged in flight together.
func (s *Store) UpdateMetadata(ctx context.Context, metas []vectormeta.Metadata) error {
	if len(metas) == 0 {
		return nil
	}
	if err := s.sim.call(ctx, s.p.Update, s.update, float64(len(metas)), "pinecone update records/s per namespace"); err != nil {
		return throttled(err)
	}
	return s.inner.UpdateMetadata(ctx, metas)
}

// Delete is one delete request per 1,000 ids.
func (s *Store) Delete(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if len(ids) > PineconeMaxIDsPerRequest {
		return fmt.Errorf("delete %d vectors: INVALID_ARGUMENT: at most %d ids per delete", len(ids), PineconeMaxIDsPerRequest)
	}
	if err := s.sim.call(ctx, s.p.Delete, s.del, 1, "pinecone delete requests/s per namespace"); err != nil {
		return throttled(err)
	}
	return s.inner.Delete(ctx, ids)
}

// Query is one query request.
func (s *Store) Query(ctx context.Context, values []float32, k int, filter vectormeta.Filter) ([]vectorstore.Match, error) {
	if err := s.sim.call(ctx, s.p.Query, s.query, 1, "pinecone query requests/s per namespace"); err != nil {
		return nil, throttled(err)
	}
	return s.inner.Query(ctx, values, k, filter)
}

// Fetch is one fetch request.
func (s *Store) Fetch(ctx context.Context, ids []string) (map[string]vectorstore.Vector, error) {
	if len(ids) > PineconeMaxIDsPerRequest {
		return nil, fmt.Errorf("fetch %d vectors: INVALID_ARGUMENT: at most %d ids per fetch", len(ids), PineconeMaxIDsPerRequest)
	}
	if err := s.sim.call(ctx, s.p.Fetch, s.fetch, 1, "pinecone fetch requests/s per index"); err != nil {
		return nil, throttled(err)
	}
	return s.inner.Fetch(ctx, ids)
}

// Count is one describe-index-stats request.
func (s *Store) Count(ctx context.Context) (int, error) {
	if err := s.sim.call(ctx, s.p.Stats, s.stats, 1, "pinecone describe index stats requests/s per index"); err != nil {
		return 0, throttled(err)
	}
	return s.inner.Count(ctx)
}
