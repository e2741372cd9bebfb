// Package sqsqueue is the production queue backend: an SQS FIFO queue whose
// redrive policy moves a message to a dead-letter queue after N receives.
// Group is the MessageGroupId and DedupID the MessageDeduplicationId, so SQS
// itself gives per-group order, one group in flight at a time across
// consumers, and deduplication for five minutes.
//
// SQS counts time in whole seconds: visibility timeouts and waits are
// rounded up. One Receive may return several messages of one group, in
// order; no other consumer gets that group while they are in flight.
package sqsqueue

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	"golang.org/x/sync/errgroup"

	"github.com/refarch/refarch/internal/quota"
	"github.com/refarch/refarch/queue"
)

// SQS request limits.
const (
	maxBatch      = 10        // entries per batch call and messages per receive
	maxBatchBytes = 256 << 10 // bytes of bodies per SendMessageBatch
	maxWait       = 20        // seconds of one long poll
	maxVisibility = 12 * 3600 // seconds
	// batchWorkers bounds the delete and visibility batch calls in flight.
	batchWorkers = 8
	// maxIdleConns is how many connections to SQS are kept open.
	maxIdleConns = 128
)

// Options configure a Queue.
type Options struct {
	// QueueURL is the FIFO queue's URL. Required.
	QueueURL string
	// DLQURL is the dead-letter queue named in QueueURL's redrive policy.
	// Without it Depth reports no dead messages and Redrive fails.
	DLQURL string
	// Endpoint overrides the service endpoint (BaseEndpoint), for local
	// servers such as moto.
	Endpoint string
	// Region defaults to the SDK's usual sources, or us-east-1 with an Endpoint.
	Region string
	// AccessKeyID and SecretAccessKey are static credentials, for local
	// servers; empty uses the SDK's default chain (task role, environment).
	AccessKeyID     string
	SecretAccessKey string
	// Client, when set, is used as is and the connection options above are
	// ignored.
	Client *sqs.Client
}

// Queue is an SQS FIFO queue with its dead-letter queue.
type Queue struct {
	client   *sqs.Client
	url, dlq string
}

var _ queue.Queue = (*Queue)(nil)

// NewClient builds an SQS client from the connection options.
func NewClient(ctx context.Context, opts Options) (*sqs.Client, error) {
	var load []func(*config.LoadOptions) error
	region := opts.Region
	if region == "" && opts.Endpoint != "" {
		region = "us-east-1"
	}
	if region != "" {
		load = append(load, config.WithRegion(region))
	}
	key, secret := opts.AccessKeyID, opts.SecretAccessKey
	if key == "" && opts.Endpoint != "" {
		// A local server accepts any signature; this keeps the SDK from
		// searching for real credentials (and the instance metadata service).
		key, secret = "local", "local"
	}
	if key != "" {
		load = append(load, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(key, secret, "")))
	}
	// Pelican and emu keep dozens of calls in flight (pelican's sends, each
	// emu worker's receives); the SDK keeps only 10 idle connections per
	// host by default and would open (and shake hands on) new ones.
	load = append(load, config.WithHTTPClient(awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConnsPerHost = maxIdleConns
	})))
	cfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	return sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		if opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(opts.Endpoint)
		}
	}), nil
}

// New returns a Queue on an existing FIFO queue (see CreateQueues).
func New(ctx context.Context, opts Options) (*Queue, error) {
	if opts.QueueURL == "" {
		return nil, errors.New("sqs queue: queue URL is required")
	}
	if !strings.HasSuffix(opts.QueueURL, ".fifo") {
		return nil, fmt.Errorf("sqs queue %s: not a FIFO queue (its name must end in .fifo)", opts.QueueURL)
	}
	client := opts.Client
	if client == nil {
		var err error
		if client, err = NewClient(ctx, opts); err != nil {
			return nil, err
		}
	}
	return &Queue{client: client, url: opts.QueueURL, dlq: opts.DLQURL}, nil
}

// Name describes the backend for status pages.
func (q *Queue) Name() string { return "sqs" }

// Client is the queue's SQS client, to share with the queue of another lane.
func (q *Queue) Client() *sqs.Client { return q.client }

// URLs returns the queue's and the dead-letter queue's URLs, for starting
// other processes on the same queues (crash and soak tests).
func (q *Queue) URLs() (queueURL, dlqURL string) { return q.url, q.dlq }

// CreateQueues creates (or finds, since creation is idempotent) the FIFO
// queue name.fifo and its dead-letter queue name-dlq.fifo, with a redrive
// policy after maxReceives receives, and returns their URLs.
func CreateQueues(ctx context.Context, client *sqs.Client, name string, maxReceives int) (queueURL, dlqURL string, err error) {
	name = strings.TrimSuffix(name, ".fifo")
	if maxReceives <= 0 {
		maxReceives = 5
	}
	fifo := map[string]string{
		string(types.QueueAttributeNameFifoQueue):                 "true",
		string(types.QueueAttributeNameContentBasedDeduplication): "false",
		string(types.QueueAttributeNameMessageRetentionPeriod):    "1209600",
	}
	dlq, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + "-dlq.fifo"), Attributes: fifo})
	if err != nil {
		return "", "", fmt.Errorf("create dead-letter queue %s-dlq.fifo: %w", name, err)
	}
	attrs, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: dlq.QueueUrl, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return "", "", fmt.Errorf("read dead-letter queue ARN: %w", err)
	}
	policy, err := json.Marshal(map[string]string{
		"deadLetterTargetArn": attrs.Attributes[string(types.QueueAttributeNameQueueArn)],
		"maxReceiveCount":     strconv.Itoa(maxReceives),
	})
	if err != nil {
		return "", "", fmt.Errorf("encode redrive policy: %w", err)
	}
	main := map[string]string{string(types.QueueAttributeNameRedrivePolicy): string(policy)}
	for k, v := range fifo {
		main[k] = v
	}
	created, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + ".fifo"), Attributes: main})
	if err != nil {
		return "", "", fmt.Errorf("create queue %s.fifo: %w", name, err)
	}
	return aws.ToString(created.QueueUrl), aws.ToString(dlq.QueueUrl), nil
}

// DeleteQueues deletes a queue pair made by CreateQueues.
func DeleteQueues(ctx context.Context, client *sqs.Client, queueURL, dlqURL string) error {
	var errs []error
	for _, u := range []string{queueURL, dlqURL} {
		if u == "" {
			continue
		}
		if _, err := client.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(u)}); err != nil {
			errs = append(errs, fmt.Errorf("delete queue %s: %w", u, err))
		}
	}
	return errors.Join(errs...)
}

// seconds rounds d up to whole seconds within [0, limit].
func seconds(d time.Duration, limit int32) int32 {
	if d <= 0 {
		return 0
	}
	s := math.Ceil(d.Seconds())
	if s > float64(limit) {
		return limit
	}
	return int32(s)
}

func randomID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Chunks splits sizes into consecutive runs of at most maxBatch entries and
// maxBatchBytes bytes (a lone larger entry gets a run of its own, for SQS
// to reject with its own message) and returns each run's end index.
func Chunks(sizes []int) []int {
	var ends []int
	n, bytes := 0, 0
	for i, s := range sizes {
		if n > 0 && (n == maxBatch || bytes+s > maxBatchBytes) {
			ends = append(ends, i)
			n, bytes = 0, 0
		}
		n++
		bytes += s
	}
	if n > 0 {
		ends = append(ends, len(sizes))
	}
	return ends
}

// Send enqueues msgs with SendMessageBatch, in order, in as few requests as
// the limits allow. A message without a DedupID gets a unique one, so it is
// never deduplicated.
//
// A message SQS refuses for what it holds (a body over 256 KiB, characters
// outside SQS's set, an invalid parameter) is reported in a
// *queue.RefusedError and the others are sent: checked here where the rule
// is known, and otherwise told apart by SQS's answer, per entry (a sender
// fault) or, when such an entry fails the whole call, by sending the call's
// entries one by one. Throttling, server faults and every other failure of a
// call are returned as they are, for the caller to retry.
func (q *Queue) Send(ctx context.Context, msgs []queue.Outgoing) error {
	entries := make([]types.SendMessageBatchRequestEntry, 0, len(msgs))
	sizes := make([]int, 0, len(msgs))
	var refused []queue.Refusal
	for i, m := range msgs {
		if m.Group == "" {
			return fmt.Errorf("send message %d: empty group", i)
		}
		if reason := invalidBody(m.Body); reason != "" {
			refused = append(refused, queue.Refusal{Index: i, Reason: reason})
			continue
		}
		dedup := m.DedupID
		if dedup == "" {
			dedup = randomID()
		}
		entries = append(entries, types.SendMessageBatchRequestEntry{
			Id:                     aws.String(strconv.Itoa(i)),
			MessageBody:            aws.String(string(m.Body)),
			MessageGroupId:         aws.String(m.Group),
			MessageDeduplicationId: aws.String(dedup),
		})
		sizes = append(sizes, len(m.Body))
	}
	more, err := q.sendEntries(ctx, q.url, entries, sizes)
	if err != nil {
		return err
	}
	refused = append(refused, more...)
	if len(refused) > 0 {
		slices.SortFunc(refused, func(a, b queue.Refusal) int { return a.Index - b.Index })
		return &queue.RefusedError{Refused: refused}
	}
	return nil
}

// invalidBody says why SQS would refuse body, or "" if it would not: SQS
// takes up to 256 KiB of UTF-8 text made of #x9, #xA, #xD, #x20 to #xD7FF,
// #xE000 to #xFFFD and #x10000 to #x10FFFF.
func invalidBody(body []byte) string {
	if len(body) > maxBatchBytes {
		return fmt.Sprintf("body of %d bytes is over SQS's limit of %d", len(body), maxBatchBytes)
	}
	if !utf8.Valid(body) {
		return "body is not UTF-8 text"
	}
	for i, r := range string(body) {
		if r == 0x9 || r == 0xA || r == 0xD || (r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || r >= 0x10000 {
			continue
		}
		return fmt.Sprintf("body holds U+%04X at byte %d, a character SQS does not accept", r, i)
	}
	return ""
}

// refusedCodes are the errors with which SQS refuses a message for what it
// holds. Any other error, a client fault included (access denied, no such
// queue), is about the queue or the call and fails every message alike.
var refusedCodes = map[string]bool{
	"InvalidMessageContents": true,
	"InvalidParameterValue":  true,
	"BatchRequestTooLong":    true,
	"MessageTooLong":         true,
}

// sendEntries sends entries in calls within SQS's limits and returns the
// entries SQS refused for good (Index is the entry's Id).
func (q *Queue) sendEntries(ctx context.Context, url string, entries []types.SendMessageBatchRequestEntry, sizes []int) ([]queue.Refusal, error) {
	var refused []queue.Refusal
	start := 0
	for _, end := range Chunks(sizes) {
		r, err := q.sendBatch(ctx, url, entries[start:end])
		if err != nil {
			return nil, fmt.Errorf("send messages %d-%d of %d: %w", start+1, end, len(entries), err)
		}
		refused = append(refused, r...)
		start = end
	}
	return refused, nil
}

// sendBatch makes one SendMessageBatch call. When SQS refuses the whole
// call for the content of one of several entries, it sends them one by one,
// in order, to find which.
func (q *Queue) sendBatch(ctx context.Context, url string, entries []types.SendMessageBatchRequestEntry) ([]queue.Refusal, error) {
	out, err := q.client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: entries})
	if err != nil {
		var api smithy.APIError
		if !errors.As(err, &api) || !refusedCodes[api.ErrorCode()] || ctx.Err() != nil {
			return nil, throttle("SendMessageBatch", err)
		}
		if len(entries) == 1 {
			return []queue.Refusal{refusal(entries[0].Id, api.ErrorCode(), api.ErrorMessage())}, nil
		}
		var refused []queue.Refusal
		for i := range entries {
			r, err := q.sendBatch(ctx, url, entries[i:i+1])
			if err != nil {
				return nil, err
			}
			refused = append(refused, r...)
		}
		return refused, nil
	}
	var refused []queue.Refusal
	var failed []types.BatchResultErrorEntry
	for _, f := range out.Failed {
		code := aws.ToString(f.Code)
		if f.SenderFault && !throttled(code) {
			refused = append(refused, refusal(f.Id, code, aws.ToString(f.Message)))
		} else {
			failed = append(failed, f)
		}
	}
	if len(failed) > 0 {
		f := failed[0]
		return nil, fmt.Errorf("%d of %d failed, first (entry %s): %s: %s",
			len(failed), len(entries), aws.ToString(f.Id), aws.ToString(f.Code), aws.ToString(f.Message))
	}
	return refused, nil
}

func refusal(id *string, code, message string) queue.Refusal {
	i, _ := strconv.Atoi(aws.ToString(id))
	return queue.Refusal{Index: i, Reason: "SQS: " + code + ": " + message}
}

// receiveAttrs are the system attributes a Message needs. Both the current
// and the older parameter are sent: moto reads only the older one.
var receiveAttrs = []types.MessageSystemAttributeName{
	types.MessageSystemAttributeNameApproximateReceiveCount,
	types.MessageSystemAttributeNameMessageGroupId,
	types.MessageSystemAttributeNameSentTimestamp,
}

func (q *Queue) receiveInput(url string, n int, wait, visibility int32) *sqs.ReceiveMessageInput {
	old := make([]types.QueueAttributeName, len(receiveAttrs))
	for i, a := range receiveAttrs {
		old[i] = types.QueueAttributeName(a)
	}
	return &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(url),
		MaxNumberOfMessages:         int32(n),
		WaitTimeSeconds:             wait,
		VisibilityTimeout:           visibility,
		MessageSystemAttributeNames: receiveAttrs,
		AttributeNames:              old, //nolint:staticcheck // moto reads only this one
	}
}

func convert(m types.Message) queue.Message {
	attr := m.Attributes
	count, _ := strconv.Atoi(attr[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
	var sent time.Time
	if ms, err := strconv.ParseInt(attr[string(types.MessageSystemAttributeNameSentTimestamp)], 10, 64); err == nil {
		sent = time.UnixMilli(ms)
	}
	return queue.Message{
		ID:           aws.ToString(m.MessageId),
		Receipt:      aws.ToString(m.ReceiptHandle),
		Group:        attr[string(types.MessageSystemAttributeNameMessageGroupId)],
		Body:         []byte(aws.ToString(m.Body)),
		ReceiveCount: count,
		SentAt:       sent,
	}
}

// Receive long-polls (in rounds of at most 20 s) until a message arrives or
// wait ends, then tops the batch up to max without waiting. It returns ctx's
// error as soon as ctx ends.
func (q *Queue) Receive(ctx context.Context, max int, wait, visibility time.Duration) ([]queue.Message, error) {
	if max <= 0 {
		max = 1
	}
	deadline := time.Now().Add(wait)
	vis := seconds(visibility, maxVisibility)
	var out []queue.Message
	for len(out) < max {
		n := min(max-len(out), maxBatch)
		var w int32
		if len(out) == 0 {
			w = seconds(time.Until(deadline), maxWait)
		}
		resp, err := q.client.ReceiveMessage(ctx, q.receiveInput(q.url, n, w, vis))
		if err != nil {
			if ctx.Err() != nil {
				// Messages already received reappear after their timeout.
				return nil, ctx.Err()
			}
			if len(out) > 0 {
				return out, nil
			}
			return nil, fmt.Errorf("receive messages: %w", throttle("ReceiveMessage", err))
		}
		for _, m := range resp.Messages {
			out = append(out, convert(m))
		}
		if len(resp.Messages) < n && (len(out) > 0 || !time.Now().Before(deadline)) {
			break
		}
	}
	return out, nil
}

// stale reports batch failures that mean the receipt no longer names a
// delivery in flight: the message was acknowledged, or received again.
func stale(code string) bool {
	return strings.Contains(code, "ReceiptHandleIsInvalid") || strings.Contains(code, "MessageNotInflight")
}

// Ack deletes received messages with DeleteMessageBatch. Receipts that are
// no longer valid are ignored: their message was acknowledged already or is
// in another consumer's hands.
func (q *Queue) Ack(ctx context.Context, receipts []string) error {
	return q.ack(ctx, q.url, receipts)
}

func (q *Queue) ack(ctx context.Context, url string, receipts []string) error {
	return inBatches(ctx, len(receipts), func(ctx context.Context, start, end int) error {
		entries := make([]types.DeleteMessageBatchRequestEntry, 0, end-start)
		for i := start; i < end; i++ {
			entries = append(entries, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(receipts[i])})
		}
		out, err := q.client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: entries})
		if err != nil {
			return fmt.Errorf("delete messages %d-%d of %d: %w", start+1, end, len(receipts), throttle("DeleteMessageBatch", err))
		}
		for _, f := range out.Failed {
			if !stale(aws.ToString(f.Code)) {
				return fmt.Errorf("delete messages %d-%d of %d: entry %s: %s: %s",
					start+1, end, len(receipts), aws.ToString(f.Id), aws.ToString(f.Code), aws.ToString(f.Message))
			}
		}
		return nil
	})
}

// inBatches calls batch for each run of at most 10 of n entries, at most
// batchWorkers at a time: deletes and visibility changes have no order to
// keep, and one call's round trip each would add up on a large batch.
func inBatches(ctx context.Context, n int, batch func(ctx context.Context, start, end int) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(batchWorkers)
	for start := 0; start < n; start += maxBatch {
		g.Go(func() error { return batch(gctx, start, min(start+maxBatch, n)) })
	}
	return g.Wait()
}

// throttle marks SQS's throttling errors as quota errors naming action, so
// that callers back off and say which quota bound them.
func throttle(action string, err error) error {
	var api smithy.APIError
	if errors.As(err, &api) && throttled(api.ErrorCode()) {
		return &quota.Error{Quota: "sqs " + action + " calls/s", Err: err}
	}
	return err
}

func throttled(code string) bool {
	switch code {
	case "ThrottlingException", "Throttling", "RequestThrottled", "AWS.SimpleQueueService.RequestThrottled", "KmsThrottled":
		return true
	}
	return false
}

// Extend sets the visibility timeout of received messages to visibility from
// now with ChangeMessageVisibilityBatch; zero releases them. Stale receipts
// are ignored.
func (q *Queue) Extend(ctx context.Context, receipts []string, visibility time.Duration) error {
	vis := seconds(visibility, maxVisibility)
	return inBatches(ctx, len(receipts), func(ctx context.Context, start, end int) error {
		entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, 0, end-start)
		for i := start; i < end; i++ {
			entries = append(entries, types.ChangeMessageVisibilityBatchRequestEntry{
				Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(receipts[i]), VisibilityTimeout: vis,
			})
		}
		out, err := q.client.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(q.url), Entries: entries})
		if err != nil {
			return fmt.Errorf("change visibility of messages %d-%d of %d: %w", start+1, end, len(receipts), throttle("ChangeMessageVisibilityBatch", err))
		}
		for _, f := range out.Failed {
			if !stale(aws.ToString(f.Code)) {
				return fmt.Errorf("change visibility of messages %d-%d of %d: entry %s: %s: %s",
					start+1, end, len(receipts), aws.ToString(f.Id), aws.ToString(f.Code), aws.ToString(f.Message))
			}
		}
		return nil
	})
}

func (q *Queue) counts(ctx context.Context, url string) (visible, inFlight int, err error) {
	out, err := q.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url),
		AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		},
	})
	if err != nil {
		return 0, 0, fmt.Errorf("read attributes of %s: %w", url, err)
	}
	visible, _ = strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)])
	inFlight, _ = strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
	return visible, inFlight, nil
}

// Depth reports SQS's approximate counts; dead counts every message in the
// dead-letter queue, in flight there (being redriven) or not.
func (q *Queue) Depth(ctx context.Context) (queue.Depth, error) {
	var d queue.Depth
	var err error
	if d.Visible, d.InFlight, err = q.counts(ctx, q.url); err != nil {
		return d, fmt.Errorf("read queue depth: %w", err)
	}
	if q.dlq != "" {
		v, f, err := q.counts(ctx, q.dlq)
		if err != nil {
			return d, fmt.Errorf("read dead-letter queue depth: %w", err)
		}
		d.Dead = v + f
	}
	return d, nil
}

// Redrive moves messages from the dead-letter queue to the end of their
// groups in the main queue: receive, send, then delete, so a crash in
// between duplicates a message rather than losing it. The resent message
// is deduplicated by its dead-letter message id, since its original
// DedupID may still be inside the window.
func (q *Queue) Redrive(ctx context.Context) (int, error) {
	if q.dlq == "" {
		return 0, errors.New("redrive: no dead-letter queue configured")
	}
	moved := 0
	for {
		resp, err := q.client.ReceiveMessage(ctx, q.receiveInput(q.dlq, maxBatch, 1, 60))
		if err != nil {
			return moved, fmt.Errorf("redrive: receive from dead-letter queue: %w", err)
		}
		if len(resp.Messages) == 0 {
			return moved, nil
		}
		entries := make([]types.SendMessageBatchRequestEntry, len(resp.Messages))
		sizes := make([]int, len(resp.Messages))
		receipts := make([]string, len(resp.Messages))
		for i, m := range resp.Messages {
			msg := convert(m)
			entries[i] = types.SendMessageBatchRequestEntry{
				Id:                     aws.String(strconv.Itoa(i)),
				MessageBody:            m.Body,
				MessageGroupId:         aws.String(msg.Group),
				MessageDeduplicationId: aws.String("redrive-" + msg.ID),
			}
			sizes[i] = len(msg.Body)
			receipts[i] = msg.Receipt
		}
		refused, err := q.sendEntries(ctx, q.url, entries, sizes)
		if err == nil && len(refused) > 0 {
			err = &queue.RefusedError{Refused: refused}
		}
		if err != nil {
			return moved, fmt.Errorf("redrive: %w", err)
		}
		if err := q.ack(ctx, q.dlq, receipts); err != nil {
			return moved, fmt.Errorf("redrive: %w", err)
		}
		moved += len(resp.Messages)
	}
}
