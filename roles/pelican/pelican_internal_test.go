package pelican

import (
	"slices"
	"testing"
	"time"

	"github.com/refarch/refarch/indexstate"
	"github.com/refarch/refarch/queuemsg"
)

func TestOutboxMessage(t *testing.T) {
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	// As to_jsonb(products row) writes it: numeric price, offset timestamps.
	row := func(version int) []byte {
		return []byte(`{"id": 7, "sku": "S-7", "name": "Lamp", "description": "Warm", "price": 19.90, "category": "home",
			"created_at": "2026-11-25T12:00:00.123456+00:00", "updated_at": "2026-11-25T12:00:00.123456+00:00", "version": ` +
			string(rune('0'+version)) + `}`)
	}
	tests := []struct {
		name    string
		in      outboxRow
		op      queuemsg.Op
		newV    int64
		hasOld  bool
		wantErr bool
	}{
		{"insert", outboxRow{productID: 7, op: "insert", version: 1, changedAt: at, newRow: row(1)}, queuemsg.OpUpsert, 1, false, false},
		{"update", outboxRow{productID: 7, op: "update", version: 2, changedAt: at, oldRow: row(1), newRow: row(2)}, queuemsg.OpUpsert, 2, true, false},
		{"delete", outboxRow{productID: 7, op: "delete", version: 3, changedAt: at, oldRow: row(2)}, queuemsg.OpDelete, 0, true, false},
		{"unreadable", outboxRow{productID: 7, op: "update", version: 2, changedAt: at, newRow: []byte(`{"price": "lots"}`)}, "", 0, false, true},
		{"record of another version", outboxRow{productID: 7, op: "update", version: 4, changedAt: at, newRow: row(2)}, "", 0, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := outboxMessage(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("got %+v, want an error", m)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Op != tt.op || m.Source != queuemsg.SourceOutbox || m.ProductID != 7 || m.Version != tt.in.version || (m.Old != nil) != tt.hasOld {
				t.Fatalf("got %+v", m)
			}
			if tt.newV > 0 && (m.New == nil || m.New.Version != tt.newV || m.New.Price != 1990) {
				t.Fatalf("new record %+v", m.New)
			}
			if _, err := queuemsg.Encode(m); err != nil {
				t.Fatalf("message does not encode: %v", err)
			}
		})
	}
}

// TestTile: overlapping and touching ranges (concurrent bulk loads
// interleave their ids) merge, so no id is in two chunks.
func TestTile(t *testing.T) {
	c := func(lo, hi int64) indexstate.Chunk { return indexstate.Chunk{Lo: lo, Hi: hi} }
	tests := []struct {
		name   string
		ranges []indexstate.Chunk
		want   []indexstate.Chunk
	}{
		{"none", nil, nil},
		{"one small", []indexstate.Chunk{c(5, 7)}, []indexstate.Chunk{c(5, 7)}},
		{"split", []indexstate.Chunk{c(1, 25)}, []indexstate.Chunk{c(1, 10), c(11, 20), c(21, 25)}},
		{"overlapping", []indexstate.Chunk{c(1, 12), c(3, 15)}, []indexstate.Chunk{c(1, 10), c(11, 15)}},
		{"touching", []indexstate.Chunk{c(1, 5), c(6, 8)}, []indexstate.Chunk{c(1, 8)}},
		{"contained", []indexstate.Chunk{c(1, 30), c(4, 6)}, []indexstate.Chunk{c(1, 10), c(11, 20), c(21, 30)}},
		{"apart", []indexstate.Chunk{c(1, 3), c(100, 101)}, []indexstate.Chunk{c(1, 3), c(100, 101)}},
	}
	for _, tt := range tests {
		if got := tile(tt.ranges, 10); !slices.Equal(got, tt.want) {
			t.Errorf("%s: tile(%v) = %v, want %v", tt.name, tt.ranges, got, tt.want)
		}
	}
}
