package sqsqueue_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/refarch/refarch/internal/quota"
	"github.com/refarch/refarch/queue"
	"github.com/refarch/refarch/queue/sqsqueue/sqstest"
)

// alter is a client middleware for tests: before the call it swaps the body
// of group "big" for one over SQS's limit, so that moto refuses the call as
// SQS does; after it, it reports the entry of group "sender" as failed by
// the sender's fault and that of group "server" as failed by the server's,
// the per-entry answers SQS gives and moto does not.
func alter(o *sqs.Options) {
	mw := middleware.InitializeMiddlewareFunc("alter", func(ctx context.Context, in middleware.InitializeInput,
		next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		b, ok := in.Parameters.(*sqs.SendMessageBatchInput)
		if !ok {
			return next.HandleInitialize(ctx, in)
		}
		c := *b
		c.Entries = slices.Clone(b.Entries)
		group := map[string]string{}
		for i, en := range c.Entries {
			group[aws.ToString(en.Id)] = aws.ToString(en.MessageGroupId)
			if aws.ToString(en.MessageGroupId) == "big" {
				c.Entries[i].MessageBody = aws.String(strings.Repeat("x", 300<<10))
			}
		}
		in.Parameters = &c
		out, md, err := next.HandleInitialize(ctx, in)
		if err != nil {
			return out, md, err
		}
		res := out.Result.(*sqs.SendMessageBatchOutput)
		var ok2 []types.SendMessageBatchResultEntry
		for _, s := range res.Successful {
			switch group[aws.ToString(s.Id)] {
			case "sender":
				res.Failed = append(res.Failed, types.BatchResultErrorEntry{Id: s.Id, SenderFault: true,
					Code: aws.String("InvalidMessageContents"), Message: aws.String("Invalid characters found")})
			case "server":
				res.Failed = append(res.Failed, types.BatchResultErrorEntry{Id: s.Id, SenderFault: false,
					Code: aws.String("InternalError"), Message: aws.String("try again")})
			default:
				ok2 = append(ok2, s)
			}
		}
		res.Successful = ok2
		return out, md, nil
	})
	o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error { return s.Initialize.Add(mw, middleware.Before) })
}

// TestSendRefusesOnlyWhatSQSRefuses: a message SQS refuses for what it holds
// (a character outside SQS's set, found before any call; a body SQS refuses,
// which fails the whole batch call; an entry failed by the sender's fault) is
// reported in a queue.RefusedError and every other message of the call is
// sent. A failure that is not the message's (an entry failed by the
// server's fault, throttling) is an ordinary error, to be retried.
func TestSendRefusesOnlyWhatSQSRefuses(t *testing.T) {
	endpoint := sqstest.Endpoint(t)
	t.Parallel()
	ctx := t.Context()
	q := sqstest.New(t, endpoint, 5, alter)
	msg := func(group, body string) queue.Outgoing {
		return queue.Outgoing{Group: group, DedupID: group + "-1", Body: []byte(body)}
	}
	err := q.Send(ctx, []queue.Outgoing{msg("a", `"a"`), msg("ffff", "\"\uffff\""), msg("big", `"big"`), msg("b", `"b"`),
		msg("sender", `"sender"`), msg("c", `"c"`)})
	var re *queue.RefusedError
	if !errors.As(err, &re) {
		t.Fatalf("Send: %v, want a RefusedError", err)
	}
	var got []int
	for _, r := range re.Refused {
		got = append(got, r.Index)
	}
	if !slices.Equal(got, []int{1, 2, 4}) || !strings.Contains(re.Refused[0].Reason, "U+FFFF") ||
		!strings.Contains(re.Refused[1].Reason, "BatchRequestTooLong") || !strings.Contains(re.Refused[2].Reason, "InvalidMessageContents") {
		t.Fatalf("refused %+v, want messages 1 (U+FFFF), 2 (BatchRequestTooLong) and 4 (InvalidMessageContents)", re.Refused)
	}
	groups := map[string]bool{}
	for len(groups) < 3 {
		ms, err := q.Receive(ctx, 10, time.Second, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 0 {
			break
		}
		for _, m := range ms {
			groups[m.Group] = true
		}
	}
	for _, g := range []string{"a", "b", "c"} {
		if !groups[g] {
			t.Errorf("message of group %s was not sent (received groups %v)", g, groups)
		}
	}
	if groups["ffff"] || groups["big"] {
		t.Errorf("a refused message was received: %v", groups)
	}

	err = q.Send(ctx, []queue.Outgoing{msg("d", `"d"`), msg("server", `"server"`)})
	if err == nil || errors.As(err, &re) || !strings.Contains(err.Error(), "InternalError") {
		t.Fatalf("entry failed by the server: %v, want an ordinary error naming InternalError", err)
	}
}

// TestSendThrottledIsNotRefused: a throttled call is a quota error, never a
// refusal.
func TestSendThrottledIsNotRefused(t *testing.T) {
	endpoint := sqstest.Endpoint(t)
	t.Parallel()
	q := sqstest.New(t, endpoint, 5, func(o *sqs.Options) {
		mw := middleware.InitializeMiddlewareFunc("throttle", func(ctx context.Context, in middleware.InitializeInput,
			next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if _, ok := in.Parameters.(*sqs.SendMessageBatchInput); ok {
				return middleware.InitializeOutput{}, middleware.Metadata{}, &types.RequestThrottled{Message: aws.String("slow down")}
			}
			return next.HandleInitialize(ctx, in)
		})
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error { return s.Initialize.Add(mw, middleware.Before) })
	})
	err := q.Send(t.Context(), []queue.Outgoing{{Group: "a", DedupID: "a-1", Body: []byte(`"a"`)}})
	var re *queue.RefusedError
	if _, isQuota := quota.Of(err); !isQuota || errors.As(err, &re) {
		t.Fatalf("throttled send: %v, want a quota error and no refusal", err)
	}
}
