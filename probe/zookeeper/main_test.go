package zookeeper

import (
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind: a
// hostile server may cost a probe one timeout, never a goroutine. The
// client library's Close waits up to a second for the server to confirm; a
// probe that ended at its deadline leaves that wait to finish on its own,
// so the check polls for three seconds.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		var err error
		for end := time.Now().Add(3 * time.Second); ; {
			if err = goleak.Find(); err == nil || time.Now().After(end) {
				break
			}
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
