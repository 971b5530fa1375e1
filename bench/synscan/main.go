// Command synscan drives the SYN scanner without the CLI, for measuring it
// on loopback: synscan -p 1-65535 127.0.78.1.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/ajar-scan/ajar/discover"
	"github.com/ajar-scan/ajar/discover/syn"
	"github.com/ajar-scan/ajar/targets"
)

func main() {
	ports := flag.String("p", "1-1024", "ports")
	rate := flag.Float64("rate", 0, "packets per second (0: no limit)")
	retries := flag.Int("retries", 1, "retries")
	wait := flag.Duration("wait", time.Second, "wait for answers")
	senders := flag.Int("senders", 2, "sender goroutines")
	flag.Parse()
	if err := run(*ports, *rate, *retries, *wait, *senders, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "synscan:", err)
		os.Exit(1)
	}
}

func run(portSpec string, rate float64, retries int, wait time.Duration, senders int, args []string) error {
	ctx := context.Background()
	ps, err := targets.ParsePorts(portSpec, nil)
	if err != nil {
		return err
	}
	space, err := targets.Build(ctx, targets.Spec{Include: targets.Entries(args...), Ports: ps})
	if err != nil {
		return err
	}
	enc := json.NewEncoder(os.Stdout)
	start := time.Now()
	st, err := syn.Run(ctx, space.Walk(targets.WalkOptions{Seed: uint64(start.UnixNano())}),
		syn.Options{Rate: rate, Retries: retries, Wait: wait, Senders: senders},
		func(f discover.Found) {
			_ = enc.Encode(map[string]any{"schema": "ajar/1", "ip": f.Target.Addr, "port": f.Target.Port, "status": "open"})
		}, nil)
	d := time.Since(start)
	fmt.Fprintf(os.Stderr, "%d targets in %.3fs (%.0f/s): %+v\n", space.Size(), d.Seconds(), float64(space.Size())/d.Seconds(), st)
	return err
}
