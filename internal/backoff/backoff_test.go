package backoff

import (
	"context"
	"testing"
	"time"
)

func TestDelayBounds(t *testing.T) {
	tests := []struct {
		attempt      int
		lo, hi, want time.Duration // want: the un-jittered delay
	}{
		{0, 100 * time.Millisecond, 10 * time.Second, 100 * time.Millisecond},
		{3, 100 * time.Millisecond, 10 * time.Second, 800 * time.Millisecond},
		{10, 100 * time.Millisecond, 10 * time.Second, 10 * time.Second},
		{200, 100 * time.Millisecond, 10 * time.Second, 10 * time.Second},
		{5, 0, 0, 0},
	}
	for _, tt := range tests {
		for range 50 {
			d := Delay(tt.attempt, tt.lo, tt.hi)
			if d < tt.want/2 || d > tt.want {
				t.Fatalf("Delay(%d, %s, %s) = %s, want within [%s, %s]", tt.attempt, tt.lo, tt.hi, d, tt.want/2, tt.want)
			}
		}
	}
}

func TestSleepEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(ctx, time.Hour) {
		t.Fatal("Sleep on a cancelled context reported a full wait")
	}
	if !Sleep(context.Background(), time.Millisecond) {
		t.Fatal("Sleep of 1ms did not report a full wait")
	}
}
