package sqsqueue_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/refarch/refarch/queue"
	"github.com/refarch/refarch/queue/queuetest"
	"github.com/refarch/refarch/queue/sqsqueue"
)

// TestConformance runs the queue suite against an SQS-protocol server,
// moto in development and CI (scripts/moto.sh starts it).
func TestConformance(t *testing.T) {
	endpoint := os.Getenv("TEST_SQS_ENDPOINT")
	if endpoint == "" {
		t.Skip("TEST_SQS_ENDPOINT is not set, so the SQS suite did not run: start moto with " +
			"`scripts/moto.sh && source .dev/moto.env` (or point it at another SQS-protocol server)")
	}
	t.Parallel()
	opts := sqsqueue.Options{Endpoint: endpoint, Region: "us-east-1", AccessKeyID: "test", SecretAccessKey: "test"}
	client, err := sqsqueue.NewClient(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	queuetest.Run(t, func(t *testing.T, maxReceives int) queue.Queue {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
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
		o := opts
		o.QueueURL, o.DLQURL = url, dlq
		q, err := sqsqueue.New(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		return q
	},
		queuetest.Skip("StaleReceiptAfterRedelivery",
			"moto honours every receipt handle a message ever had; SQS honours only the latest"),
		queuetest.Skip("ConcurrentConsumers",
			"moto's threaded server runs receives without a lock, so two concurrent receives can both take one message; SQS does not"),
		queuetest.Skip("DedupOutlivesAck",
			"moto forgets a deduplication id once its message is deleted; SQS keeps it for five minutes"),
	)
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts sqsqueue.Options
	}{
		{"no url", sqsqueue.Options{}},
		{"not fifo", sqsqueue.Options{QueueURL: "http://127.0.0.1:1/000000000000/plain"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := sqsqueue.New(context.Background(), tc.opts); err == nil {
				t.Fatal("New accepted the options, want an error")
			}
		})
	}
}
