// Package pineconetest is a local stand-in for Pinecone that the real
// go-pinecone client talks to: an httptest control plane (create, describe,
// list and delete index) and a plaintext gRPC VectorService on 127.0.0.1
// (Upsert, Query with metadata filters, Fetch, Delete, Update,
// DescribeIndexStats). It decodes requests with dynamicpb from the message
// descriptors go-pinecone registers, so it needs none of the client's
// internal types, and it enforces the limits the service documents (1,000
// vectors and 2 MB per upsert, index dimension, non-zero dense vectors).
// Failure knobs let tests exercise rate limits and outages.
//
// It holds one index's data at a time: every index it describes points at
// the same data plane.
package pineconetest

import (
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	// Registers the VectorService descriptors in protoregistry.GlobalFiles.
	_ "github.com/pinecone-io/go-pinecone/v5/pinecone"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Limits Pinecone documents for one upsert request.
const (
	MaxUpsertVectors = 1000
	MaxRequestBytes  = 2 << 20
)

// APIKey is the key the stand-in accepts.
const APIKey = "pclocal-test-key"

type record struct {
	Values   []float32      `json:"values"`
	Metadata map[string]any `json:"metadata,omitempty"`
	// Until visibleAt, queries see hidden instead (nil: nothing), as
	// Pinecone serverless's queries lag its writes.
	visibleAt time.Time
	hidden    *record
}

// queryable is what a query sees of r at now.
func (r *record) queryable(now time.Time) *record {
	for r != nil && now.Before(r.visibleAt) {
		r = r.hidden
	}
	return r
}

type index struct {
	Name      string
	Dimension int
	Metric    string
	Cloud     string
	Region    string
	notReady  int // describes left before the index reports ready
}

type failure struct {
	method string // "" for every method
	code   codes.Code
	left   int       // calls left to fail; -1 for "until"
	until  time.Time // used when left == -1
}

// Server is a running stand-in; it stops when the test ends.
type Server struct {
	control *httptest.Server
	grpc    *grpc.Server
	addr    string
	svc     protoreflect.ServiceDescriptor

	mu         sync.Mutex
	indexes    map[string]*index
	namespaces map[string]map[string]*record
	failures   []*failure
	calls      map[string]int
	readyAfter int
	visibility time.Duration // query lag of upserts, see QueryLag
	maxBatch   int           // largest upsert seen, in vectors
	maxBytes   int           // largest upsert seen, in bytes
	latency    time.Duration // see Latency
	inFlight   map[string]int
	peak       map[string]int // most calls in flight, by method
}

// New starts a stand-in for the duration of t.
func New(t testing.TB) *Server {
	t.Helper()
	s, err := Start()
	if err != nil {
		t.Fatalf("start pinecone stand-in: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Start starts a stand-in; Close stops it.
func Start() (*Server, error) {
	d, err := protoregistry.GlobalFiles.FindDescriptorByName("VectorService")
	if err != nil {
		return nil, fmt.Errorf("find VectorService descriptor (is go-pinecone linked?): %w", err)
	}
	svc, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return nil, fmt.Errorf("VectorService is a %T, not a service", d)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for gRPC: %w", err)
	}
	s := &Server{
		addr:       lis.Addr().String(),
		svc:        svc,
		indexes:    map[string]*index{},
		namespaces: map[string]map[string]*record{},
		calls:      map[string]int{},
		inFlight:   map[string]int{},
		peak:       map[string]int{},
	}
	s.grpc = grpc.NewServer(
		grpc.UnknownServiceHandler(s.handle),
		grpc.MaxRecvMsgSize(64<<20), // the 2 MB limit is checked below, with Pinecone's error
		grpc.MaxSendMsgSize(64<<20),
	)
	go s.grpc.Serve(lis) //nolint:errcheck // returns when stopped
	s.control = httptest.NewServer(http.HandlerFunc(s.serveControl))
	return s, nil
}

// QueryLag makes vectors upserted from now on invisible to queries for d
// (a replaced vector's previous values answer meanwhile), as Pinecone
// serverless is eventually consistent; Fetch sees them at once.
func (s *Server) QueryLag(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.visibility = d
}

// Close stops both planes.
func (s *Server) Close() {
	s.control.Close()
	s.grpc.Stop()
}

// ControlURL is the control plane's base URL (NewClientParams.Host).
func (s *Server) ControlURL() string { return s.control.URL }

// DataHost is the data plane's address in the form go-pinecone dials in
// plaintext (NewIndexConnParams.Host).
func (s *Server) DataHost() string { return "http://" + s.addr }

// CreateIndex makes an index as if someone else had created it earlier.
func (s *Server) CreateIndex(name string, dim int, metric string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.indexes[name] = &index{Name: name, Dimension: dim, Metric: metric, Cloud: "aws", Region: "us-east-1"}
}

// ReadyAfter makes indexes created from now on report not ready for their
// first n describes, as a new serverless index does for a while.
func (s *Server) ReadyAfter(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readyAfter = n
}

// FailNext makes the next n data plane calls of method ("Upsert", "Query",
// ...; "" for any) fail with code.
func (s *Server) FailNext(method string, n int, code codes.Code) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, &failure{method: method, code: code, left: n})
}

// FailUntil makes data plane calls of method ("" for any) fail with code
// until the given time.
func (s *Server) FailUntil(method string, until time.Time, code codes.Code) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, &failure{method: method, code: code, left: -1, until: until})
}

// Heal drops every pending failure.
func (s *Server) Heal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = nil
}

// Calls reports how many calls of method ("" for all) reached the data
// plane, failed ones included.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if method == "" {
		n := 0
		for _, c := range s.calls {
			n += c
		}
		return n
	}
	return s.calls[method]
}

// Latency makes every data plane call take at least d, like the service's
// round trip; calls in flight meanwhile overlap.
func (s *Server) Latency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// MaxInFlight reports the most calls of method that were in flight at once.
func (s *Server) MaxInFlight(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak[method]
}

// MaxUpsert reports the largest upsert request seen, in vectors and bytes.
func (s *Server) MaxUpsert() (vectors, bytes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxBatch, s.maxBytes
}

// Count reports how many vectors a namespace holds.
func (s *Server) Count(namespace string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.namespaces[namespace])
}

// injected returns the error a failure knob wants for method, if any.
// Called with s.mu held.
func (s *Server) injected(method string) error {
	now := time.Now()
	for i, f := range s.failures {
		if f.method != "" && f.method != method {
			continue
		}
		if f.left == -1 {
			if now.Before(f.until) {
				return status.Errorf(f.code, "stand-in: injected failure until %s", f.until.Format(time.RFC3339Nano))
			}
			continue
		}
		if f.left > 0 {
			f.left--
			if f.left == 0 {
				s.failures = append(s.failures[:i:i], s.failures[i+1:]...)
			}
			return status.Errorf(f.code, "stand-in: injected failure")
		}
	}
	return nil
}

func (s *Server) handle(_ any, stream grpc.ServerStream) error {
	full, ok := grpc.MethodFromServerStream(stream)
	if !ok {
		return status.Error(codes.Internal, "no method")
	}
	name := full[strings.LastIndex(full, "/")+1:]
	md := s.svc.Methods().ByName(protoreflect.Name(name))
	if md == nil || !strings.HasPrefix(full, "/VectorService/") {
		return status.Errorf(codes.Unimplemented, "unknown method %s", full)
	}
	if m, _ := metadata.FromIncomingContext(stream.Context()); len(m.Get("api-key")) == 0 || m.Get("api-key")[0] != APIKey {
		return status.Error(codes.Unauthenticated, "invalid or missing api-key")
	}
	in := dynamicpb.NewMessage(md.Input())
	if err := stream.RecvMsg(in); err != nil {
		return err
	}
	size := proto.Size(in)
	raw, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(in)
	if err != nil {
		return status.Errorf(codes.Internal, "encode request: %v", err)
	}

	s.mu.Lock()
	s.inFlight[name]++
	s.peak[name] = max(s.peak[name], s.inFlight[name])
	wait := s.latency
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight[name]--
		s.mu.Unlock()
	}()
	time.Sleep(wait)

	s.mu.Lock()
	s.calls[name]++
	if err := s.injected(name); err != nil {
		s.mu.Unlock()
		return err
	}
	resp, err := s.dispatch(name, raw, size)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	// Encoded under the lock: a response shares the stored records'
	// metadata maps, which a concurrent update writes.
	body, err := json.Marshal(resp)
	s.mu.Unlock()
	if err != nil {
		return status.Errorf(codes.Internal, "encode response: %v", err)
	}
	out := dynamicpb.NewMessage(md.Output())
	if err := protojson.Unmarshal(body, out); err != nil {
		return status.Errorf(codes.Internal, "build response: %v", err)
	}
	return stream.SendMsg(out)
}

// dispatch runs one data plane call with s.mu held.
func (s *Server) dispatch(method string, raw []byte, size int) (any, error) {
	switch method {
	case "Upsert":
		var req struct {
			Vectors []struct {
				ID string `json:"id"`
				record
			} `json:"vectors"`
			Namespace string `json:"namespace"`
		}
		if err := json.Unmarshal(raw, &req); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "decode upsert: %v", err)
		}
		if len(req.Vectors) > MaxUpsertVectors {
			return nil, status.Errorf(codes.InvalidArgument, "Batch size exceeds %d. Reduce the number of vectors per request.", MaxUpsertVectors)
		}
		if size > MaxRequestBytes {
			return nil, status.Errorf(codes.InvalidArgument, "Request size %dMB exceeds the maximum supported size of 2MB", size>>20)
		}
		s.maxBatch = max(s.maxBatch, len(req.Vectors))
		s.maxBytes = max(s.maxBytes, size)
		dim := s.dimension()
		for _, v := range req.Vectors {
			if v.ID == "" {
				return nil, status.Error(codes.InvalidArgument, "Vector ID must not be empty")
			}
			if dim > 0 && len(v.Values) != dim {
				return nil, status.Errorf(codes.InvalidArgument, "Vector dimension %d does not match the dimension of the index %d", len(v.Values), dim)
			}
			if norm(v.Values) == 0 {
				return nil, status.Errorf(codes.InvalidArgument, "Dense vectors must contain at least one non-zero value. Vector ID %s contains only zeros.", v.ID)
			}
		}
		ns := s.ns(req.Namespace)
		now := time.Now()
		for _, v := range req.Vectors {
			r := &record{Values: v.Values, Metadata: v.Metadata}
			if s.visibility > 0 {
				r.visibleAt, r.hidden = now.Add(s.visibility), ns[v.ID]
			}
			ns[v.ID] = r
		}
		return map[string]any{"upserted_count": len(req.Vectors)}, nil

	case "Fetch":
		var req struct {
			IDs       []string `json:"ids"`
			Namespace string   `json:"namespace"`
		}
		if err := json.Unmarshal(raw, &req); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "decode fetch: %v", err)
		}
		found := map[string]any{}
		ns := s.namespaces[req.Namespace]
		for _, id := range req.IDs {
			if r, ok := ns[id]; ok {
				found[id] = map[string]any{"id": id, "values": r.Values, "metadata": r.Metadata}
			}
		}
		return map[string]any{"vectors": found, "namespace": req.Namespace}, nil

	case "Delete":
		var req struct {
			IDs       []string       `json:"ids"`
			DeleteAll bool           `json:"delete_all"`
			Namespace string         `json:"namespace"`
			Filter    map[string]any `json:"filter"`
		}
		if err := json.Unmarshal(raw, &req); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "decode delete: %v", err)
		}
		if len(req.IDs) > MaxUpsertVectors {
			return nil, status.Errorf(codes.InvalidArgument, "Delete request exceeds %d ids", MaxUpsertVectors)
		}
		ns := s.namespaces[req.Namespace]
		switch {
		case req.DeleteAll:
			delete(s.namespaces, req.Namespace)
		case req.Filter != nil:
			for id, r := range ns {
				ok, err := match(req.Filter, r.Metadata)
				if err != nil {
					return nil, err
				}
				if ok {
					delete(ns, id)
				}
			}
		default:
			for _, id := range req.IDs {
				delete(ns, id)
			}
		}
		return map[string]any{}, nil

	case "Update":
		var req struct {
			ID          string         `json:"id"`
			Values      []float32      `json:"values"`
			SetMetadata map[string]any `json:"set_metadata"`
			Namespace   string         `json:"namespace"`
		}
		if err := json.Unmarshal(raw, &req); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "decode update: %v", err)
		}
		if req.ID == "" {
			return nil, status.Error(codes.InvalidArgument, "update needs an id")
		}
		r, ok := s.namespaces[req.Namespace][req.ID]
		if !ok {
			return map[string]any{}, nil // updating a missing id has no effect
		}
		if req.Values != nil {
			if dim := s.dimension(); dim > 0 && len(req.Values) != dim {
				return nil, status.Errorf(codes.InvalidArgument, "Vector dimension %d does not match the dimension of the index %d", len(req.Values), dim)
			}
			r.Values = req.Values
		}
		if req.SetMetadata != nil {
			if r.Metadata == nil {
				r.Metadata = map[string]any{}
			}
			for k, v := range req.SetMetadata { // set_metadata merges
				r.Metadata[k] = v
			}
		}
		return map[string]any{}, nil

	case "Query":
		return s.query(raw)

	case "DescribeIndexStats":
		nss := map[string]any{}
		total := 0
		for name, ns := range s.namespaces {
			if len(ns) > 0 {
				nss[name] = map[string]any{"vector_count": len(ns)}
				total += len(ns)
			}
		}
		out := map[string]any{"namespaces": nss, "total_vector_count": total, "metric": "cosine", "vector_type": "dense"}
		if dim := s.dimension(); dim > 0 {
			out["dimension"] = dim
		}
		return out, nil
	}
	return nil, status.Errorf(codes.Unimplemented, "stand-in does not implement %s", method)
}

func (s *Server) query(raw []byte) (any, error) {
	var req struct {
		Namespace       string         `json:"namespace"`
		TopK            int            `json:"top_k"`
		Filter          map[string]any `json:"filter"`
		IncludeValues   bool           `json:"include_values"`
		IncludeMetadata bool           `json:"include_metadata"`
		Vector          []float32      `json:"vector"`
		ID              string         `json:"id"`
	}
	if err := json.Unmarshal(raw, &req); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "decode query: %v", err)
	}
	if req.TopK < 1 || req.TopK > 10000 {
		return nil, status.Errorf(codes.InvalidArgument, "top_k must be between 1 and 10000, got %d", req.TopK)
	}
	ns := s.namespaces[req.Namespace]
	q := req.Vector
	if req.ID != "" {
		r, ok := ns[req.ID]
		if !ok {
			return map[string]any{"matches": []any{}, "namespace": req.Namespace}, nil
		}
		q = r.Values
	}
	if dim := s.dimension(); dim > 0 && len(q) != dim {
		return nil, status.Errorf(codes.InvalidArgument, "Vector dimension %d does not match the dimension of the index %d", len(q), dim)
	}
	type hit struct {
		id    string
		score float64
		r     *record
	}
	var hits []hit
	qn := norm(q)
	now := time.Now()
	for id, r := range ns {
		if r = r.queryable(now); r == nil {
			continue
		}
		if req.Filter != nil {
			ok, err := match(req.Filter, r.Metadata)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
		}
		var dot float64
		for i := range q {
			dot += float64(q[i]) * float64(r.Values[i])
		}
		hits = append(hits, hit{id, dot / (qn * norm(r.Values)), r})
	}
	sort.Slice(hits, func(i, j int) bool {
		if hits[i].score != hits[j].score {
			return hits[i].score > hits[j].score
		}
		return hits[i].id < hits[j].id
	})
	if len(hits) > req.TopK {
		hits = hits[:req.TopK]
	}
	matches := make([]any, len(hits))
	for i, h := range hits {
		m := map[string]any{"id": h.id, "score": h.score}
		if req.IncludeValues {
			m["values"] = h.r.Values
		}
		if req.IncludeMetadata && h.r.Metadata != nil {
			m["metadata"] = h.r.Metadata
		}
		matches[i] = m
	}
	return map[string]any{"matches": matches, "namespace": req.Namespace}, nil
}

func (s *Server) ns(name string) map[string]*record {
	ns, ok := s.namespaces[name]
	if !ok {
		ns = map[string]*record{}
		s.namespaces[name] = ns
	}
	return ns
}

// dimension is the dimension of the index the data plane serves, or 0 when
// none was created through the control plane. The stand-in has one data
// plane for every index: with indexes of several dimensions (a model
// change to a new dimension), it checks none.
func (s *Server) dimension() int {
	dim := 0
	for _, ix := range s.indexes {
		if dim != 0 && ix.Dimension != dim {
			return 0
		}
		dim = ix.Dimension
	}
	return dim
}

func norm(v []float32) float64 {
	var n float64
	for _, f := range v {
		n += float64(f) * float64(f)
	}
	return math.Sqrt(n)
}

// match evaluates Pinecone's metadata filter language: field conditions
// ({"f": {"$op": v}} or {"f": v} for $eq) joined by AND, $and and $or lists,
// and the operators $eq, $ne, $gt, $gte, $lt, $lte, $in, $nin, $exists.
func match(filter map[string]any, meta map[string]any) (bool, error) {
	for key, cond := range filter {
		var ok bool
		var err error
		switch key {
		case "$and", "$or":
			list, isList := cond.([]any)
			if !isList {
				return false, status.Errorf(codes.InvalidArgument, "%s needs a list", key)
			}
			ok = key == "$and"
			for _, sub := range list {
				m, isMap := sub.(map[string]any)
				if !isMap {
					return false, status.Errorf(codes.InvalidArgument, "%s entries must be objects", key)
				}
				r, err := match(m, meta)
				if err != nil {
					return false, err
				}
				if key == "$and" {
					ok = ok && r
				} else {
					ok = ok || r
				}
			}
		default:
			if strings.HasPrefix(key, "$") {
				return false, status.Errorf(codes.InvalidArgument, "unknown top-level operator %s", key)
			}
			ok, err = matchField(cond, meta[key], meta != nil && meta[key] != nil)
			if err != nil {
				return false, err
			}
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}

func matchField(cond, value any, present bool) (bool, error) {
	ops, isOps := cond.(map[string]any)
	if !isOps {
		return present && equal(value, cond), nil
	}
	for op, arg := range ops {
		var ok bool
		switch op {
		case "$eq":
			ok = present && equal(value, arg)
		case "$ne":
			ok = !present || !equal(value, arg)
		case "$gt", "$gte", "$lt", "$lte":
			a, aok := value.(float64)
			b, bok := arg.(float64)
			if !bok {
				return false, status.Errorf(codes.InvalidArgument, "%s needs a number", op)
			}
			ok = present && aok && map[string]bool{"$gt": a > b, "$gte": a >= b, "$lt": a < b, "$lte": a <= b}[op]
		case "$in", "$nin":
			list, isList := arg.([]any)
			if !isList {
				return false, status.Errorf(codes.InvalidArgument, "%s needs a list", op)
			}
			in := false
			for _, x := range list {
				in = in || (present && equal(value, x))
			}
			ok = in == (op == "$in")
		case "$exists":
			want, _ := arg.(bool)
			ok = present == want
		default:
			return false, status.Errorf(codes.InvalidArgument, "unknown operator %s", op)
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}

func equal(a, b any) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	}
	return false
}

// Control plane.

type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Status int `json:"status"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v) //nolint:errcheck // the client sees a short body
}

func writeError(w http.ResponseWriter, code int, kind, msg string) {
	var e apiError
	e.Error.Code, e.Error.Message, e.Status = kind, msg, code
	writeJSON(w, code, e)
}

func (s *Server) model(ix *index) map[string]any {
	ready := ix.notReady <= 0
	state := "Ready"
	if !ready {
		state = "Initializing"
	}
	return map[string]any{
		"name":                ix.Name,
		"dimension":           ix.Dimension,
		"metric":              ix.Metric,
		"host":                s.addr, // like the service: no scheme
		"vector_type":         "dense",
		"deletion_protection": "disabled",
		"spec": map[string]any{"serverless": map[string]any{
			"cloud": ix.Cloud, "region": ix.Region,
			"read_capacity": map[string]any{"mode": "OnDemand", "status": map[string]any{"state": "Ready"}},
		}},
		"status": map[string]any{"ready": ready, "state": state},
	}
}

func (s *Server) serveControl(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Api-Key") != APIKey {
		writeError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "Invalid API Key")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	path := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case path == "/indexes" && r.Method == http.MethodGet:
		list := []any{}
		for _, ix := range s.indexes {
			list = append(list, s.model(ix))
		}
		writeJSON(w, http.StatusOK, map[string]any{"indexes": list})
	case path == "/indexes" && r.Method == http.MethodPost:
		var req struct {
			Name      string  `json:"name"`
			Dimension *int    `json:"dimension"`
			Metric    *string `json:"metric"`
			Spec      struct {
				Serverless *struct {
					Cloud  string `json:"cloud"`
					Region string `json:"region"`
				} `json:"serverless"`
			} `json:"spec"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "bad JSON: "+err.Error())
			return
		}
		if req.Name == "" || req.Dimension == nil || *req.Dimension < 1 || *req.Dimension > 20000 || req.Spec.Serverless == nil {
			writeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "name, dimension (1..20000) and a serverless spec are required")
			return
		}
		if _, ok := s.indexes[req.Name]; ok {
			writeError(w, http.StatusConflict, "ALREADY_EXISTS", "Resource already exists")
			return
		}
		metric := "cosine"
		if req.Metric != nil {
			metric = *req.Metric
		}
		ix := &index{Name: req.Name, Dimension: *req.Dimension, Metric: metric,
			Cloud: req.Spec.Serverless.Cloud, Region: req.Spec.Serverless.Region, notReady: s.readyAfter}
		s.indexes[req.Name] = ix
		writeJSON(w, http.StatusCreated, s.model(ix))
	case strings.HasPrefix(path, "/indexes/") && strings.Count(path, "/") == 2:
		name := strings.TrimPrefix(path, "/indexes/")
		ix, ok := s.indexes[name]
		if !ok {
			writeError(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("Resource %s not found", name))
			return
		}
		switch r.Method {
		case http.MethodGet:
			m := s.model(ix)
			ix.notReady--
			writeJSON(w, http.StatusOK, m)
		case http.MethodDelete:
			delete(s.indexes, name)
			s.namespaces = map[string]map[string]*record{}
			w.WriteHeader(http.StatusAccepted)
		default:
			writeError(w, http.StatusMethodNotAllowed, "INVALID_ARGUMENT", "method not allowed")
		}
	default:
		writeError(w, http.StatusNotFound, "NOT_FOUND", "no such endpoint in the stand-in: "+r.Method+" "+path)
	}
}
