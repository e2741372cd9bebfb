package sqsqueue

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/smithy-go"

	"github.com/refarch/refarch/internal/quota"
)

func TestChunks(t *testing.T) {
	kb := 1 << 10
	for _, tc := range []struct {
		name  string
		sizes []int
		want  []int
	}{
		{"empty", nil, nil},
		{"one", []int{10}, []int{1}},
		{"ten fit", make([]int, 10), []int{10}},
		{"eleven split by count", make([]int, 11), []int{10, 11}},
		{"bytes split", []int{100 * kb, 100 * kb, 100 * kb, 100 * kb}, []int{2, 4}},
		{"exactly the limit", []int{128 * kb, 128 * kb, 1}, []int{2, 3}},
		{"oversized alone", []int{1, 300 * kb, 1}, []int{1, 2, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Chunks(tc.sizes); !slices.Equal(got, tc.want) {
				t.Errorf("Chunks(%v) = %v, want %v", tc.sizes, got, tc.want)
			}
		})
	}
}

func TestSeconds(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want int32
	}{
		{-time.Second, 0}, {0, 0}, {time.Millisecond, 1}, {time.Second, 1},
		{1500 * time.Millisecond, 2}, {time.Minute, 20},
	} {
		if got := seconds(tc.d, 20); got != tc.want {
			t.Errorf("seconds(%v, 20) = %d, want %d", tc.d, got, tc.want)
		}
	}
}

// TestThrottle: SQS's throttling codes become quota errors naming the
// action; other errors are left alone.
func TestThrottle(t *testing.T) {
	for _, tc := range []struct {
		code string
		want bool
	}{
		{"ThrottlingException", true}, {"RequestThrottled", true}, {"AWS.SimpleQueueService.RequestThrottled", true},
		{"InvalidParameterValue", false}, {"AccessDenied", false},
	} {
		err := throttle("SendMessageBatch", fmt.Errorf("operation error: %w", &smithy.GenericAPIError{Code: tc.code}))
		name, ok := quota.Of(err)
		if ok != tc.want || (ok && name != "sqs SendMessageBatch calls/s") {
			t.Errorf("%s: quota %q, %v; want quota error %v", tc.code, name, ok, tc.want)
		}
	}
}
