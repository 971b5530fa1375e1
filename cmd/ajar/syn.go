package main

import (
	"context"
	"fmt"

	"github.com/ajar-scan/ajar/discover"
)

// synRun runs a raw SYN scan; ok is false when raw sockets are not
// available and the caller should fall back to connect mode.
func (a *app) synRun(_ context.Context, _ *discoverFlags, _ *walk, _ func(discover.Found)) (discoverStats, bool, error) {
	fmt.Fprintln(a.stderr, "ajar: --syn is not available in this build; falling back to connect mode")
	return discoverStats{}, false, nil
}
