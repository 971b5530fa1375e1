package mongodb

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind: a
// hostile server may cost a probe one timeout, never a goroutine.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
