// Package sqstest gives each test its own FIFO queue and dead-letter queue on
// the SQS-protocol server named by TEST_SQS_ENDPOINT (moto in development and
// CI, started by scripts/moto.sh, which writes .dev/moto.env).
package sqstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/refarch/refarch/queue/sqsqueue"
)

// Endpoint returns TEST_SQS_ENDPOINT. Without it, it skips t and says how to
// start a server, so a missing server is visible rather than silent.
func Endpoint(t testing.TB) string {
	t.Helper()
	endpoint := os.Getenv("TEST_SQS_ENDPOINT")
	if endpoint == "" {
		t.Skip("TEST_SQS_ENDPOINT is not set, so this test did not run against SQS: start moto with " +
			"`scripts/moto.sh && source .dev/moto.env` (or point it at another SQS-protocol server)")
	}
	return endpoint
}

// New creates a queue pair with a random name on endpoint, with a redrive
// policy after maxReceives receives, and deletes it when the test ends.
// optFns adjust the client the queue uses (middleware that alters requests,
// for tests of what the server refuses).
func New(t testing.TB, endpoint string, maxReceives int, optFns ...func(*sqs.Options)) *sqsqueue.Queue {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts := sqsqueue.Options{Endpoint: endpoint, Region: "us-east-1", AccessKeyID: "test", SecretAccessKey: "test"}
	client, err := sqsqueue.NewClient(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	rand.Read(b[:])
	url, dlq, err := sqsqueue.CreateQueues(ctx, client, "refarch-test-"+hex.EncodeToString(b[:]), maxReceives)
	if err != nil {
		t.Fatalf("create queues: %v", err)
	}
	t.Cleanup(func() {
		if err := sqsqueue.DeleteQueues(context.Background(), client, url, dlq); err != nil {
			t.Logf("delete queues: %v", err)
		}
	})
	if len(optFns) > 0 {
		client = sqs.New(client.Options(), optFns...)
	}
	opts.QueueURL, opts.DLQURL, opts.Client = url, dlq, client
	q, err := sqsqueue.New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	return q
}
