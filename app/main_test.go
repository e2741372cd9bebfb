package app

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine a test starts must be gone when the tests end. An HTTP
// client's idle keep-alive connection to a server that outlives the tests
// (moto) is the client's pool, not a goroutine a test leaked: CI once
// failed on one after every test had passed.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"))
}
