package emu

import (
	"testing"
	"time"

	"github.com/refarch/refarch/queue"
	"github.com/refarch/refarch/queuemsg"
)

func TestGroupMergesAndRejects(t *testing.T) {
	at := time.Now()
	msg := func(id, version int64, src queuemsg.Source) queue.Message {
		m := queuemsg.Message{Op: queuemsg.OpDelete, Source: src, ProductID: id, Version: version, ChangedAt: at}
		b, err := queuemsg.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		return queue.Message{Receipt: "r" + queuemsg.DedupID(id, version), Body: b}
	}
	msgs := []queue.Message{
		msg(1, 2, queuemsg.SourceOutbox),
		msg(2, 1, queuemsg.SourceCatchup),
		{Receipt: "bad", Body: []byte(`{"v":9}`)},
		msg(1, 5, queuemsg.SourceOutbox),
		msg(1, 3, queuemsg.SourceCatchup),
	}
	rb, err := queuemsg.Encode(queuemsg.Message{Op: queuemsg.OpRange, Source: queuemsg.SourceCatchup, Lo: 1, Hi: 500})
	if err != nil {
		t.Fatal(err)
	}
	msgs = append(msgs, queue.Message{Receipt: "range", Body: rb})
	items, ranges, bad := group(msgs)
	if len(ranges) != 1 || ranges[0].msg.Receipt != "range" || ranges[0].r.Lo != 1 || ranges[0].r.Hi != 500 {
		t.Fatalf("ranges %+v, want 1..500 apart from the products", ranges)
	}
	if len(bad) != 1 || bad[0].msg.Receipt != "bad" {
		t.Fatalf("bad messages %+v, want the one with schema version 9", bad)
	}
	if len(items) != 2 || items[0].id != 1 || items[1].id != 2 {
		t.Fatalf("items %+v, want products 1 and 2 in arrival order", items)
	}
	if it := items[0]; len(it.msgs) != 3 || it.version != 5 || len(it.changes) != 2 {
		t.Fatalf("product 1: %d messages, version %d, %d outbox times; want 3, 5, 2", len(it.msgs), it.version, len(it.changes))
	}
	if it := items[1]; len(it.msgs) != 1 || it.version != 1 || len(it.changes) != 0 {
		t.Fatalf("product 2: %+v", it)
	}
}
