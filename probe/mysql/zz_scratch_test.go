package mysql

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/probe"
)

func TestScratch(t *testing.T) {
	for _, cc := range []int64{0, 1000} {
		tg, _ := ajar.ParseAddrPort("127.0.20.3:3306")
		opt := probe.DefaultOptions()
		if cc > 0 {
			opt.CountCap = cc
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		start := time.Now()
		res, err := (&Prober{}).Probe(ctx, &probe.Target{Target: tg, Dialer: &probe.TargetDialer{Target: tg}, Options: opt})
		cancel()
		b, _ := json.MarshalIndent(res, "", " ")
		t.Logf("%v err=%v\n%s", time.Since(start), err, b)
	}
}
