package postgres

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind: a probe
// must cost a hostile server one timeout, never a goroutine.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
