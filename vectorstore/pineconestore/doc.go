// Package pineconestore is the production vector store: a namespace of a
// serverless Pinecone index reached with go-pinecone v5 (gRPC data plane).
// It creates the index or waits for it before anything is written, splits
// upserts within Pinecone's 1,000-vector and 2 MB request limits, retries
// rate limits (429) and server errors with jittered exponential backoff,
// keeps each embedding model in its own namespace, and translates search
// filters into Pinecone's metadata filter language.
//
// This backend is verified against a local stand-in of Pinecone's wire
// protocol (package pineconetest: an HTTP control plane and a gRPC
// VectorService that the real go-pinecone client talks to), not against the
// real service. The stand-in follows the documented request shapes, limits
// and filter semantics; behaviour it cannot show, such as the service's
// eventual consistency (a Count or Query right after an upsert may lag by
// seconds) and its exact error texts, is untested here.
package pineconestore
