// Package queue is the contract between pelican (producer) and emu
// (consumers): a FIFO-per-group, at-least-once queue with visibility timeouts
// and a dead-letter queue. Backends: pgqueue (embedded default) and sqsqueue
// (SQS FIFO). queuetest is the one conformance suite both pass.
package queue

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Outgoing is a message to send. Group orders messages (one product's
// changes are delivered in order, one at a time); DedupID drops repeats.
// Lane picks the queue of a Lanes (empty: the live lane); a single queue
// ignores it.
type Outgoing struct {
	Group   string
	DedupID string
	Body    []byte
	Lane    Lane
}

// Message is a received message. Receipt is what Ack and Extend take.
type Message struct {
	ID           string
	Receipt      string
	Group        string
	Body         []byte
	ReceiveCount int
	SentAt       time.Time
	// Lane is the lane a Lanes received the message from (empty from a
	// single queue).
	Lane Lane
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
	// dropped silently. It returns a *RefusedError when the queue refuses
	// some messages for good and took the others; any other error may have
	// taken some, all or none, and the call is to be retried.
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

// Refusal is a message the queue refuses for good: for what it holds (its
// size, its characters, a parameter), not for the queue's state, so that
// sending it again fails the same way.
type Refusal struct {
	// Index is the message's position in the Send call's msgs.
	Index int
	// Reason is the queue's explanation.
	Reason string
}

// RefusedError is Send's answer when the queue refused some messages for
// good and accepted every other one, so that a producer can set the refused
// ones aside instead of retrying the call forever.
type RefusedError struct {
	Refused []Refusal
}

func (e *RefusedError) Error() string {
	if len(e.Refused) == 0 {
		return "queue refused no message"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "queue refused %d message(s) for good: message %d: %s", len(e.Refused), e.Refused[0].Index, e.Refused[0].Reason)
	if len(e.Refused) > 1 {
		b.WriteString(", ...")
	}
	return b.String()
}
