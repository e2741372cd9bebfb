// Package queuemsg is the message pelican sends and emu receives: a small,
// versioned JSON document naming a product and the row version that changed.
// It does no I/O.
//
// The message carries only what emu needs: emu re-reads the current row
// anyway, so the record itself is never sent, and a body stays a few hundred
// bytes of ASCII whatever the row holds (SQS refuses bodies over 256 KiB and
// some characters, such as U+FFFF, that a row written by SQL may hold). The
// "new" field is kept as a stub of id and version so that emus of the
// previous release, whose decoder requires it, read these messages too.
//
// The decoder is a tolerant reader, so that two releases can share a queue
// during a rolling deploy: unknown fields are ignored and the records are
// optional. A message of a newer schema version is reported as
// ErrNewerVersion, for the worker to hand back to a newer one rather than
// count it as a failure. What remains malformed fails loudly.
package queuemsg

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/refarch/refarch/product"
	"github.com/refarch/refarch/queue"
)

// Version is the newest schema version this package reads. It writes
// recordVersion for upserts and deletes, which every release reads, and
// rangeVersion for ranges, which releases before them hand back
// (ErrNewerVersion).
const Version = rangeVersion

const (
	recordVersion = 1
	rangeVersion  = 2
)

// ErrNewerVersion marks a message of a schema version newer than Version:
// not broken, written by a newer release.
var ErrNewerVersion = errors.New("message schema is newer than this release reads")

// Op says what happened to the product.
type Op string

// The operations. Inserts and updates are both upserts: emu always indexes
// the row as it is now, so it does not need to know which one it was.
const (
	OpUpsert Op = "upsert"
	OpDelete Op = "delete"
	// OpRange stands for the upserts and deletes of every product with an
	// id in Lo..Hi whose current version the index lacks, read by emu when
	// it handles the message: a catch-up sends one message per chunk of
	// ids, not one per product.
	OpRange Op = "range"
)

// Source says why a message was sent, for logs, metrics and the DLQ listing.
type Source string

// The sources. An empty source is accepted for brevity in hand-written
// messages (redrive tooling, tests).
const (
	SourceOutbox  Source = "outbox"  // a committed change, from sync_outbox
	SourceCatchup Source = "catchup" // pelican's start-up catch-up (bootstrap)
	SourceRepair  Source = "repair"  // reconcile --repair
)

// Message is one change of one product, or a range of product ids to
// bring up to the table (OpRange).
type Message struct {
	Op        Op
	Source    Source
	ProductID int64
	// Lo and Hi bound a range's product ids (inclusive); zero otherwise.
	Lo, Hi int64
	// Version is the row version the change produced; a delete is one past
	// the last version the row had, so it orders after every update.
	Version   int64
	ChangedAt time.Time
	// New is the record after the change (nil for deletes); Old the record
	// before it (nil for inserts and when unknown). Neither is sent: Encode
	// writes New as a stub of id and version, and Old as null.
	New *product.Product
	Old *product.Product
	// Generation, when set, names the one index generation the message is
	// for (a new generation's backfill); empty means every live generation
	// (a change of the table).
	Generation string
}

// wire is the JSON layout. Pointers tell a missing field from a zero one.
type wire struct {
	V         *int            `json:"v"`
	Op        *Op             `json:"op"`
	Source    Source          `json:"source,omitempty"`
	ProductID *int64          `json:"product_id"`
	Version   *int64          `json:"version"`
	ChangedAt *time.Time      `json:"changed_at"`
	New       json.RawMessage `json:"new"`
	Old       json.RawMessage `json:"old"`
	Gen       string          `json:"generation,omitempty"`
	Lo        *int64          `json:"lo,omitempty"`
	Hi        *int64          `json:"hi,omitempty"`
}

// Group is the queue group of a product: one product's messages are
// delivered in order, one at a time.
func Group(productID int64) string { return strconv.FormatInt(productID, 10) }

// RangeGroup is the queue group of a range message: its own, so that
// ranges are worked in parallel (each product's own messages keep their
// order in its group; the version guard orders a range's writes against
// them).
func RangeGroup(lo, hi int64) string {
	return "range-" + strconv.FormatInt(lo, 10) + "-" + strconv.FormatInt(hi, 10)
}

// DedupID names one version of one product, so the same change sent twice
// (outbox and catch-up, or a resend after a failed commit) is dropped. A
// message for one generation is named apart: a backfill must not be dropped
// as a repeat of the change that reached the other generations before it
// existed.
func DedupID(productID, version int64, generation ...string) string {
	id := strconv.FormatInt(productID, 10) + "-" + strconv.FormatInt(version, 10)
	if len(generation) > 0 && generation[0] != "" {
		id += "-" + generation[0]
	}
	return id
}

// Validate reports the first structural problem with m.
func (m Message) Validate() error {
	switch m.Op {
	case OpUpsert, OpDelete, OpRange:
	default:
		return fmt.Errorf("op %q: want %q, %q or %q", m.Op, OpUpsert, OpDelete, OpRange)
	}
	switch m.Source {
	case "", SourceOutbox, SourceCatchup, SourceRepair:
	default:
		return fmt.Errorf("source %q: want outbox, catchup or repair", m.Source)
	}
	if m.Op == OpRange {
		switch {
		case m.Lo <= 0 || m.Hi < m.Lo:
			return fmt.Errorf("range %d..%d: want 0 < lo <= hi", m.Lo, m.Hi)
		case m.Source == SourceOutbox || m.Source == "":
			return errors.New("a range is sent by a catch-up or a repair, not from the outbox")
		case m.New != nil || m.Old != nil:
			return errors.New("a range carries no record")
		}
		return nil
	}
	if m.Lo != 0 || m.Hi != 0 {
		return fmt.Errorf("an %s names one product, not a range", m.Op)
	}
	if m.ProductID <= 0 {
		return fmt.Errorf("product_id %d: must be positive", m.ProductID)
	}
	if m.Version <= 0 {
		return fmt.Errorf("version %d: must be positive", m.Version)
	}
	if m.ChangedAt.IsZero() {
		return errors.New("changed_at is missing")
	}
	if m.Op == OpDelete && m.New != nil {
		return errors.New("a delete must not carry a new record")
	}
	for _, r := range []struct {
		name string
		p    *product.Product
	}{{"new", m.New}, {"old", m.Old}} {
		if r.p != nil && r.p.ID != m.ProductID {
			return fmt.Errorf("%s record is product %d, message is about %d", r.name, r.p.ID, m.ProductID)
		}
	}
	if m.New != nil && m.New.Version != m.Version {
		return fmt.Errorf("new record is version %d, message says %d", m.New.Version, m.Version)
	}
	return nil
}

// Encode writes m as JSON after validating it.
func Encode(m Message) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("encode message: %w", err)
	}
	w := wire{Source: m.Source, Gen: m.Generation}
	if m.Op == OpRange {
		v, op, lo, hi := rangeVersion, m.Op, m.Lo, m.Hi
		w.V, w.Op, w.Lo, w.Hi = &v, &op, &lo, &hi
		b, err := json.Marshal(w)
		if err != nil {
			return nil, fmt.Errorf("encode range %d..%d: %w", m.Lo, m.Hi, err)
		}
		return b, nil
	}
	v, op, id, ver, at := recordVersion, m.Op, m.ProductID, m.Version, m.ChangedAt.UTC()
	w.V, w.Op, w.ProductID, w.Version, w.ChangedAt = &v, &op, &id, &ver, &at
	w.New, w.Old = json.RawMessage("null"), json.RawMessage("null")
	if m.Op == OpUpsert {
		// The stub older decoders require of an upsert.
		w.New = json.RawMessage(`{"id":` + strconv.FormatInt(m.ProductID, 10) + `,"version":` + strconv.FormatInt(m.Version, 10) + `}`)
	}
	b, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("encode message for product %d: %w", m.ProductID, err)
	}
	return b, nil
}

// Outgoing encodes m for the queue with its group and deduplication id.
func Outgoing(m Message) (queue.Outgoing, error) {
	b, err := Encode(m)
	if err != nil {
		return queue.Outgoing{}, err
	}
	if m.Op == OpRange {
		return queue.Outgoing{Group: RangeGroup(m.Lo, m.Hi), DedupID: "", Body: b, Lane: LaneOf(m.Source)}, nil
	}
	return queue.Outgoing{Group: Group(m.ProductID), DedupID: DedupID(m.ProductID, m.Version, m.Generation), Body: b, Lane: LaneOf(m.Source)}, nil
}

// LaneOf is the queue lane of a message from source: committed changes go
// on the live lane, and everything sent in bulk to bring an index up to the
// table (catch-up, repair, a new generation's backfill) on the backfill
// lane, so that a live change never waits behind a backfill.
func LaneOf(s Source) queue.Lane {
	switch s {
	case SourceOutbox, "":
		return queue.LaneLive
	default:
		return queue.LaneBackfill
	}
}

// Decode reads one message. It ignores unknown fields and accepts missing
// records; it rejects newer schema versions (ErrNewerVersion), missing
// required fields, bad values and anything after the JSON object.
func Decode(b []byte) (Message, error) {
	var w wire
	if err := unmarshal(b, &w); err != nil {
		return Message{}, fmt.Errorf("decode message: %w", err)
	}
	missing := func(name string) (Message, error) {
		return Message{}, fmt.Errorf("decode message: field %q is missing", name)
	}
	switch {
	case w.V == nil:
		return missing("v")
	case *w.V > Version:
		return Message{}, fmt.Errorf("decode message: schema version %d (this release reads %d): %w", *w.V, Version, ErrNewerVersion)
	case *w.V < 1:
		return Message{}, fmt.Errorf("decode message: schema version %d is not supported (want %d)", *w.V, Version)
	case w.Op == nil:
		return missing("op")
	case *w.Op == OpRange:
		return decodeRange(w)
	case w.ProductID == nil:
		return missing("product_id")
	case w.Version == nil:
		return missing("version")
	case w.ChangedAt == nil:
		return missing("changed_at")
	}
	m := Message{Op: *w.Op, Source: w.Source, ProductID: *w.ProductID, Version: *w.Version, ChangedAt: *w.ChangedAt, Generation: w.Gen}
	var err error
	if m.New, err = record("new", w.New); err != nil {
		return Message{}, err
	}
	if m.Old, err = record("old", w.Old); err != nil {
		return Message{}, err
	}
	if err := m.Validate(); err != nil {
		return Message{}, fmt.Errorf("decode message: %w", err)
	}
	return m, nil
}

func decodeRange(w wire) (Message, error) {
	if w.Lo == nil || w.Hi == nil {
		return Message{}, errors.New("decode message: a range needs \"lo\" and \"hi\"")
	}
	m := Message{Op: OpRange, Source: w.Source, Lo: *w.Lo, Hi: *w.Hi, Generation: w.Gen}
	if err := m.Validate(); err != nil {
		return Message{}, fmt.Errorf("decode message: %w", err)
	}
	return m, nil
}

func record(name string, r json.RawMessage) (*product.Product, error) {
	if len(r) == 0 || bytes.Equal(bytes.TrimSpace(r), []byte("null")) {
		return nil, nil
	}
	var p product.Product
	if err := unmarshal(r, &p); err != nil {
		return nil, fmt.Errorf("decode message: %s record: %w", name, err)
	}
	return &p, nil
}

func unmarshal(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(v); err != nil {
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}
