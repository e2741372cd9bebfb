package sqsqueue_test

import (
	"context"
	"testing"

	"github.com/refarch/refarch/queue"
	"github.com/refarch/refarch/queue/queuetest"
	"github.com/refarch/refarch/queue/sqsqueue"
	"github.com/refarch/refarch/queue/sqsqueue/sqstest"
)

// TestConformance runs the queue suite against an SQS-protocol server,
// moto in development and CI (scripts/moto.sh starts it).
func TestConformance(t *testing.T) {
	endpoint := sqstest.Endpoint(t)
	t.Parallel()
	queuetest.Run(t, func(t *testing.T, maxReceives int) queue.Queue {
		return sqstest.New(t, endpoint, maxReceives)
	},
		queuetest.Skip("StaleReceiptAfterRedelivery",
			"moto honours every receipt handle a message ever had; SQS honours only the latest"),
		queuetest.Skip("ConcurrentConsumers",
			"moto's threaded server runs receives without a lock, so two concurrent receives can both take one message; SQS does not"),
		queuetest.Skip("DedupOutlivesAck",
			"moto forgets a deduplication id once its message is deleted; SQS keeps it for five minutes"),
	)
}

// TestLanesConformance runs the suite on two SQS queue pairs as the lanes,
// as Terraform creates them (the live queue and the backfill queue, each
// with its dead-letter queue).
func TestLanesConformance(t *testing.T) {
	endpoint := sqstest.Endpoint(t)
	t.Parallel()
	queuetest.RunLanes(t, func(t *testing.T, maxReceives int) *queue.Lanes {
		return queue.NewLanes(sqstest.New(t, endpoint, maxReceives), sqstest.New(t, endpoint, maxReceives))
	},
		queuetest.Skip("StaleReceiptAfterRedelivery", "moto honours every receipt handle a message ever had; SQS honours only the latest"),
		queuetest.Skip("ConcurrentConsumers", "moto's threaded server runs receives without a lock; SQS does not"),
		queuetest.Skip("DedupOutlivesAck", "moto forgets a deduplication id once its message is deleted; SQS keeps it for five minutes"),
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
