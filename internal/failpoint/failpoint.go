// Package failpoint names the points where crash tests kill a real refarch
// process. In a normal build Hit does nothing and costs nothing; a binary
// built with the failpoints tag (tests only) reads REFARCH_FAILPOINTS, a
// comma-separated list of names, each optionally name@N for the Nth hit
// (default the first), and SIGKILLs itself when a listed point is hit: no
// deferred function, no rollback, no goodbye, as in an OOM kill.
package failpoint

// The named points.
const (
	// EmuAfterStoreWrite is after the vector store write, before the
	// index_state transaction commits.
	EmuAfterStoreWrite = "emu-after-store-write"
	// EmuBeforeAck is after index_state commits, before the messages are
	// acknowledged.
	EmuBeforeAck = "emu-before-ack"
	// PelicanAfterSend is after the queue accepted a batch, before the
	// outbox rows' delete commits.
	PelicanAfterSend = "pelican-after-send"
	// PelicanInCatchupChunk is after a catch-up chunk's messages were sent,
	// before the chunk is marked done.
	PelicanInCatchupChunk = "pelican-in-catchup-chunk"
)
