package cluster

import (
	"os"
	"testing"

	"github.com/magic-sessionmanager/sessionmanager/internal/redistest"
)

// TestMain tears down the Redis Cluster and Sentinel setup the tests
// started (once for the package, on first use).
func TestMain(m *testing.M) {
	code := m.Run()
	redistest.StopShared()
	os.Exit(code)
}
