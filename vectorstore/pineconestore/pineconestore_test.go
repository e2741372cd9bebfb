package pineconestore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/refarch/refarch/internal/quota"
	"github.com/refarch/refarch/vectormeta"
	"github.com/refarch/refarch/vectorstore"
	"github.com/refarch/refarch/vectorstore/pineconestore"
	"github.com/refarch/refarch/vectorstore/pineconestore/pineconetest"
	"github.com/refarch/refarch/vectorstore/vectorstoretest"
)

func options(srv *pineconetest.Server, dim int) pineconestore.Options {
	return pineconestore.Options{
		APIKey:       pineconetest.APIKey,
		ControlHost:  srv.ControlURL(),
		IndexName:    "refarch-test",
		Model:        vectorstoretest.Model,
		Dimension:    dim,
		Retry:        pineconestore.Retry{MaxAttempts: 5, BaseDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond},
		PollInterval: time.Millisecond,
	}
}

func open(t *testing.T, opts pineconestore.Options) *pineconestore.Store {
	t.Helper()
	s, err := pineconestore.New(t.Context(), opts)
	if err != nil {
		t.Fatalf("new pinecone store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	vectorstoretest.Run(t, func(t *testing.T, dim int) vectorstore.Store {
		return open(t, options(pineconetest.New(t), dim))
	})
}

func vectors(n, dim int) []vectorstore.Vector {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([]vectorstore.Vector, n)
	for i := range out {
		v := make([]float32, dim)
		for j := range v {
			v[j] = float32(r.NormFloat64())
		}
		id := int64(i + 1)
		out[i] = vectorstore.Vector{ID: vectormeta.VectorID(id), Values: v,
			Meta: vectormeta.Metadata{ProductID: id, Version: 1, ContentHash: "h", Model: "m", Category: "c", Price: 1}}
	}
	return out
}

func TestRetriesRateLimitsAndServerErrors(t *testing.T) {
	t.Parallel()
	srv := pineconetest.New(t)
	s := open(t, options(srv, 4))
	vs := vectors(10, 4)
	srv.FailNext("Upsert", 3, codes.ResourceExhausted)
	srv.FailNext("Query", 2, codes.Unavailable)
	if err := s.Upsert(t.Context(), vs); err != nil {
		t.Fatalf("upsert through 3 rate limits: %v", err)
	}
	if got := srv.Calls("Upsert"); got != 4 {
		t.Errorf("upsert calls = %d, want 4 (3 throttled, 1 accepted)", got)
	}
	if got, err := s.Query(t.Context(), vs[0].Values, 1, vectormeta.Filter{}); err != nil || len(got) != 1 || got[0].ID != vs[0].ID {
		t.Errorf("query through 2 unavailable answers = %v, %v", got, err)
	}
	if n := srv.Count(vectorstoretest.Model); n != 10 {
		t.Errorf("stand-in holds %d vectors, want 10", n)
	}
}

func TestPermanentAndExhaustedErrors(t *testing.T) {
	t.Parallel()
	srv := pineconetest.New(t)
	s := open(t, options(srv, 4))
	vs := vectors(2, 4)

	srv.FailNext("Upsert", 1, codes.InvalidArgument)
	err := s.Upsert(t.Context(), vs)
	if err == nil || errors.Is(err, vectorstore.ErrTransient) {
		t.Errorf("upsert with a permanent error = %v, want a non-transient error", err)
	}
	if got := srv.Calls("Upsert"); got != 1 {
		t.Errorf("a permanent error was retried: %d calls", got)
	}

	srv.FailUntil("Upsert", time.Now().Add(time.Hour), codes.ResourceExhausted)
	err = s.Upsert(t.Context(), vs)
	if !errors.Is(err, vectorstore.ErrTransient) {
		t.Errorf("upsert throttled past the retry budget = %v, want ErrTransient", err)
	}
	if q, ok := quota.Of(err); !ok || q != "pinecone upsert rate" {
		t.Errorf("upsert throttled past the retry budget names quota %q, want pinecone upsert rate", q)
	}
	if got := srv.Calls("Upsert"); got != 1+5 {
		t.Errorf("upsert calls = %d, want 6 (1 permanent + 5 attempts)", got)
	}
	srv.Heal()
	if err := s.Upsert(t.Context(), vs); err != nil {
		t.Errorf("upsert after healing: %v", err)
	}
}

func TestRetryHonoursContext(t *testing.T) {
	t.Parallel()
	srv := pineconetest.New(t)
	opts := options(srv, 4)
	opts.Retry = pineconestore.Retry{MaxAttempts: 1000, BaseDelay: time.Hour, MaxDelay: time.Hour}
	s := open(t, opts)
	srv.FailNext("Upsert", 1, codes.Unavailable)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Upsert(ctx, vectors(1, 4)) }()
	for srv.Calls("Upsert") == 0 { // wait until the first attempt failed
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err == nil {
		t.Error("upsert returned nil after its context was cancelled during backoff")
	}
}

func TestCreatesAndWaitsForIndex(t *testing.T) {
	t.Parallel()
	srv := pineconetest.New(t)
	srv.ReadyAfter(3)
	s := open(t, options(srv, 8))
	if err := s.Upsert(t.Context(), vectors(3, 8)); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Count(t.Context()); err != nil || n != 3 {
		t.Errorf("count = %d, %v; want 3", n, err)
	}
	// A second store (another replica) finds the index and shares it.
	s2 := open(t, options(srv, 8))
	if n, _ := s2.Count(t.Context()); n != 3 {
		t.Errorf("second store counts %d, want 3", n)
	}
}

// TestIndexHost checks that a known data plane host skips the control
// plane (here a closed server, which would fail any describe), and that a
// host without a scheme is dialed in plaintext when the control plane is
// plain http.
func TestIndexHost(t *testing.T) {
	t.Parallel()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	srv := pineconetest.New(t)
	for i, host := range []string{srv.DataHost(), strings.TrimPrefix(srv.DataHost(), "http://")} {
		opts := options(srv, 4)
		opts.ControlHost = closed.URL
		opts.IndexHost = host
		opts.Namespace = fmt.Sprint("ns-", i)
		s := open(t, opts)
		vs := vectors(3, 4)
		if err := s.Upsert(t.Context(), vs); err != nil {
			t.Fatalf("upsert through index host %q: %v", host, err)
		}
		if got, err := s.Fetch(t.Context(), []string{vs[1].ID}); err != nil || len(got) != 1 {
			t.Errorf("fetch through index host %q = %v, %v; want vector %s", host, got, err, vs[1].ID)
		}
		if n := srv.Count(opts.Namespace); n != 3 {
			t.Errorf("stand-in holds %d vectors in %s, want 3", n, opts.Namespace)
		}
	}
}

func TestRejectsMismatchedIndex(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, metric, want string
		dim                int
	}{
		{"dimension", "cosine", "dimension 384", 384},
		{"metric", "euclidean", `metric "euclidean"`, 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := pineconetest.New(t)
			srv.CreateIndex("refarch-test", tc.dim, tc.metric)
			_, err := pineconestore.New(t.Context(), options(srv, 8))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New against an index with another %s = %v, want an error mentioning %q", tc.name, err, tc.want)
			}
		})
	}
}

func TestNamespacesKeepModelsApart(t *testing.T) {
	t.Parallel()
	srv := pineconetest.New(t)
	a := open(t, options(srv, 4))
	optsB := options(srv, 4)
	optsB.Model = "other-model"
	b := open(t, optsB)
	if err := a.Upsert(t.Context(), vectors(5, 4)); err != nil {
		t.Fatal(err)
	}
	if n, _ := b.Count(t.Context()); n != 0 {
		t.Errorf("other model's namespace holds %d vectors", n)
	}
	if got, _ := b.Query(t.Context(), vectors(1, 4)[0].Values, 5, vectormeta.Filter{}); len(got) != 0 {
		t.Errorf("other model's query found %d vectors", len(got))
	}
	if !strings.Contains(b.Name(), "other-model") {
		t.Errorf("Name() = %q, want the namespace in it", b.Name())
	}
}

func TestBatchesWithinLimits(t *testing.T) {
	t.Parallel()
	srv := pineconetest.New(t)
	s := open(t, options(srv, 1024))
	if err := s.Upsert(t.Context(), vectors(1500, 1024)); err != nil {
		t.Fatal(err)
	}
	n, size := srv.MaxUpsert()
	if n > pineconetest.MaxUpsertVectors || size > pineconetest.MaxRequestBytes {
		t.Errorf("largest upsert: %d vectors, %d bytes; limits %d and %d", n, size, pineconetest.MaxUpsertVectors, pineconetest.MaxRequestBytes)
	}
	if size < pineconetest.MaxRequestBytes*3/4 {
		t.Errorf("largest upsert was %d bytes: batches are needlessly small", size)
	}
}

// An upsert over the request limits is split, and the parts go at once
// (within a bound), not one round trip after the other.
func TestLargeUpsertSendsPartsConcurrently(t *testing.T) {
	t.Parallel()
	srv := pineconetest.New(t)
	s := open(t, options(srv, 4))
	srv.Latency(50 * time.Millisecond)
	if err := s.Upsert(t.Context(), vectors(5500, 4)); err != nil {
		t.Fatal(err)
	}
	if got := srv.Calls("Upsert"); got != 6 {
		t.Errorf("%d upsert requests for 5,500 vectors, want 6", got)
	}
	if got := srv.MaxInFlight("Upsert"); got < 2 || got > 4 {
		t.Errorf("at most %d upsert requests were in flight at once, want 2 to 4", got)
	}
	if n := srv.Count(vectorstoretest.Model); n != 5500 {
		t.Errorf("the namespace holds %d vectors, want 5,500", n)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	err := pineconestore.Options{Metric: "dotproduct", Dimension: -1}.Validate()
	for _, want := range []string{"API key", "index name", "namespace", "dimension", "metric"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %q", err, want)
		}
	}
}

// Refused credentials and a missing index are about the whole store, not the
// vectors sent: they are marked ErrUnavailable (emu holds its work as an
// outage) and not retried in place; a rejected vector is neither.
func TestStoreWideErrorsAreUnavailable(t *testing.T) {
	t.Parallel()
	srv := pineconetest.New(t)
	s := open(t, options(srv, 4))
	vs := vectors(2, 4)
	for _, c := range []codes.Code{codes.Unauthenticated, codes.PermissionDenied, codes.NotFound, codes.FailedPrecondition} {
		srv.FailNext("Upsert", 1, c)
		err := s.Upsert(t.Context(), vs)
		if !errors.Is(err, vectorstore.ErrUnavailable) || errors.Is(err, vectorstore.ErrTransient) {
			t.Errorf("upsert failing with %s = %v, want ErrUnavailable", c, err)
		}
	}
	srv.FailNext("Upsert", 1, codes.InvalidArgument)
	if err := s.Upsert(t.Context(), vs); err == nil || errors.Is(err, vectorstore.ErrUnavailable) {
		t.Errorf("upsert failing with InvalidArgument = %v, want an error about the call", err)
	}
	if err := s.Upsert(t.Context(), vs); err != nil {
		t.Errorf("upsert after the failures: %v", err)
	}
}
