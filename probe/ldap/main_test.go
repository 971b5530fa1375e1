package ldap

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: a
// hostile server must cost a timeout, never a goroutine.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
