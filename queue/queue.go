// Package queue is the contract between pelican (producer) and emu
// (consumers): a FIFO-per-group, at-least-once queue with visibility timeouts
// and a dead-letter queue. Backends: pgqueue (embedded default) and sqsqueue
// (SQS FIFO). queuetest is the one conformance suite both pass.
package queue

import (
	"context"
	"time"
)

// Outgoing is a message to send. Group orders messages (one product's
// changes are delivered in order, one at a time); DedupID drops repeats.
type Outgoing struct {
	Group   string
	DedupID string
	Body    []byte
}

// Message is a received message. Receipt is what Ack and Extend take.
type Message struct {
	ID           string
	Receipt      string
	Group        string
	Body         []byte
	ReceiveCount int
	SentAt       time.Time
}

// Depth is the queue's backlog.
type Depth struct {
	Visible  int `json:"visible"`
	InFlight int `json:"in_flight"`
	Dead     int `json:"dead"`
}

// Queue is implemented by every backend.
type Queue interface {
	// Send enqueues messages; a message whose DedupID was sent recently is
	// dropped silently.
	Send(ctx context.Context, msgs []Outgoing) error
	// Receive waits up to wait for at most max messages and hides them for
	// visibility. A message received more than the backend's max receive
	// count goes to the dead-letter queue instead.
	Receive(ctx context.Context, max int, wait, visibility time.Duration) ([]Message, error)
	// Ack deletes received messages.
	Ack(ctx context.Context, receipts []string) error
	// Extend resets the visibility timeout of received messages (a
	// heartbeat); zero makes them visible again at once.
	Extend(ctx context.Context, receipts []string, visibility time.Duration) error
	// Depth reports the backlog.
	Depth(ctx context.Context) (Depth, error)
	// Redrive moves dead-lettered messages back to the queue.
	Redrive(ctx context.Context) (int, error)
	// Name describes the backend for status pages.
	Name() string
}
