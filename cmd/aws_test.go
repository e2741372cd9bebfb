package cmd

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// The process ends with the ops task's own status, so scripts can branch on `refarch aws run`.
func TestExitCodeCarriesTheTaskStatus(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{exitStatus{3}, 3},
		{fmt.Errorf("wrapped: %w", exitStatus{42}), 42},
		{context.Canceled, 130},
		{errors.New("boom"), 1},
	} {
		if got := exitCode(c.err); got != c.want {
			t.Errorf("exitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

func TestAWSRunNeedsACommand(t *testing.T) {
	t.Parallel()
	root := newRootCmd()
	root.SetArgs([]string{"aws", "run"})
	root.SetOut(new(discard))
	root.SetErr(new(discard))
	if err := root.Execute(); err == nil {
		t.Error("aws run without a command succeeded")
	}
}

type discard struct{}

func (*discard) Write(b []byte) (int, error) { return len(b), nil }
