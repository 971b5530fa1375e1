package identify

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/probe"
)

func TestZZTrace(t *testing.T) {
	for _, a := range []string{"127.0.11.11:27117", "127.0.11.21:11311", "127.0.13.61:1389", "127.0.12.11:5772", "127.0.11.41:2281", "127.0.12.40:9000", "127.0.12.20:1883"} {
		ap := netip.MustParseAddrPort(a)
		tg := ajar.Target{Addr: ap.Addr(), Port: ap.Port()}
		d := &probe.TargetDialer{Target: tg, Timeout: time.Second}
		opt := DefaultOptions()
		for _, h := range hellos {
			st := time.Now()
			var ok bool
			var n int
			var err error
			if h.run != nil {
				_, ok = h.run(context.Background(), tg, d.Dial, opt)
			} else {
				var ans []byte
				ans, err = exchange(context.Background(), d.Dial, h.payload, opt.StepTimeout, opt.MaxBanner)
				n = len(ans)
				_, ok = h.match(ans)
			}
			fmt.Printf("%s %-10s ok=%v n=%d err=%v %v\n", a, h.protocol, ok, n, err, time.Since(st).Round(time.Millisecond))
		}
	}
}
