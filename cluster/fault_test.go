package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/cluster/natstest"
	"github.com/ajar-scan/ajar/lab"
	"github.com/ajar-scan/ajar/scan"
	"github.com/ajar-scan/ajar/store/postgres"
	"github.com/ajar-scan/ajar/store/postgres/pgtest"
	"github.com/ajar-scan/ajar/targets"
)

// The fault tests scan the lab's first 32 addresses on its three data
// ports: 96 targets, six of them open (each lab server, open and secured),
// in four shards, at 12 connection attempts per second for the whole
// cluster, so that a shard lasts a few seconds and a fault lands inside one.
const (
	testRange   = "127.0.10.0/27"
	testShards  = 4
	testRate    = 12
	testAckWait = 3 * time.Second
	testSeed    = 20261125
	testTimeout = 4 * time.Minute
)

var testPorts = []uint16{3306, 5432, 6379}

func labSpec(t *testing.T) Spec {
	t.Helper()
	lab.Require(t)
	sp, err := targets.Build(context.Background(), targets.Spec{Include: targets.Entries(testRange), Ports: testPorts})
	if err != nil {
		t.Fatal(err)
	}
	spec := NewSpec(sp, nil)
	spec.Seed, spec.Shards, spec.Rate = testSeed, testShards, testRate
	spec.Timeout, spec.Retries, spec.ProbeTimeout = 2*time.Second, 1, 30*time.Second
	spec.Samples, spec.CountCap = 5, 1_000_000
	return spec
}

// seedHistory records what an earlier scan saw, in every store of a test:
// an exposure inside the space whose port is closed now (the closing pass
// must close it), one outside the space (it must stay), and the open Redis
// (seen again, it stays open).
func seedHistory(t *testing.T, st ajar.Store) {
	t.Helper()
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for _, a := range []string{"127.0.10.5:6379", "127.0.10.200:6379", lab.RedisOpen} {
		tg, _ := ajar.ParseAddrPort(a)
		ev := ajar.Event{Schema: ajar.Schema, Time: at, Scan: "earlier", Target: tg,
			Service: ajar.Service{Transport: "tcp", Protocol: "redis"}, Plugin: "redis", Status: ajar.StatusExposed,
			Exposure: &ajar.Exposure{Plugin: "redis", Access: ajar.AccessRead, Records: 1, Bytes: 1}}
		if err := st.Record(context.Background(), &ev); err != nil {
			t.Fatal(err)
		}
	}
}

// snapshot is what a store holds, without times: each exposure's status,
// and how many events of each status each key has.
type snapshot struct {
	Exposures map[string]ajar.Status
	Events    map[string]int
}

func takeSnapshot(t *testing.T, st ajar.Store) snapshot {
	t.Helper()
	ctx := context.Background()
	recs, err := st.List(ctx, ajar.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	s := snapshot{Exposures: map[string]ajar.Status{}, Events: map[string]int{}}
	for _, r := range recs {
		k := r.Last.Key()
		s.Exposures[k.String()] = r.Status()
		evs, err := st.Events(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			s.Events[k.String()+" "+string(ev.Status)]++
		}
	}
	return s
}

func (s snapshot) events() int {
	n := 0
	for _, c := range s.Events {
		n += c
	}
	return n
}

// reference scans the same space in one process, without a rate limit,
// into a database of its own that holds the same history.
func reference(t *testing.T, spec Spec) snapshot {
	t.Helper()
	ctx := context.Background()
	st := openStore(t, pgtest.NewDatabase(t))
	seedHistory(t, st)
	sp, err := spec.Space(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = scan.Run(ctx, scan.Config{
		ID: "reference", Targets: sp.Walk(targets.WalkOptions{Seed: spec.Seed}), Total: sp.Size(),
		Covers: sp.Contains, Store: st, TargetTimeout: spec.ProbeTimeout,
	})
	if err != nil {
		t.Fatalf("reference scan: %v", err)
	}
	return takeSnapshot(t, st)
}

// checkSame compares the cluster's store with the reference and looks for
// duplicate rows directly in the database.
func checkSame(t *testing.T, dsn string, st ajar.Store, want snapshot, scanID string) snapshot {
	t.Helper()
	got := takeSnapshot(t, st)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the cluster stored other exposures or events than one process:\n got %v\nwant %v", got, want)
	}
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var dups int
	if err := c.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM events WHERE scan = $1
		GROUP BY ip, port, plugin HAVING count(*) > 1) d`, scanID).Scan(&dups); err != nil {
		t.Fatal(err)
	}
	if dups > 0 {
		t.Errorf("%d keys have more than one event of scan %s", dups, scanID)
	}
	for k, st := range got.Exposures {
		if k == "127.0.10.5:6379/redis" && st != ajar.StatusClosed {
			t.Errorf("%s, inside the space and not open, is %s after the closing pass, want closed", k, st)
		}
		if k == "127.0.10.200:6379/redis" && st != ajar.StatusExposed {
			t.Errorf("%s, outside the space, is %s, want exposed", k, st)
		}
	}
	return got
}

// clusterRun is a cluster scan under test: its coordinator follows it in
// the background.
type clusterRun struct {
	id       string
	progress chan Progress
	result   chan error
	final    *Scan
}

func startScan(t *testing.T, c *Coordinator, id string, spec Spec) *clusterRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	if _, err := c.Start(ctx, id, "ajar scan "+testRange+" (test)", spec); err != nil {
		t.Fatalf("start scan: %v", err)
	}
	r := &clusterRun{id: id, progress: make(chan Progress, 64), result: make(chan error, 1)}
	go func() {
		sc, err := c.Follow(ctx, id, func(s *Scan) {
			select {
			case r.progress <- s.Progress:
			default:
			}
		})
		r.final = sc
		r.result <- err
	}()
	return r
}

func (r *clusterRun) wait(t *testing.T) *Scan {
	t.Helper()
	if err := <-r.result; err != nil {
		t.Fatalf("follow scan %s: %v", r.id, err)
	}
	if r.final.State != StateFinished {
		t.Fatalf("scan %s ended %s, want finished", r.id, r.final.State)
	}
	return r.final
}

// merge forwards the lines of every worker to one channel, with the index
// of the worker.
type indexedLine struct {
	worker int
	workerLine
}

func merge(ws []*workerProc) <-chan indexedLine {
	out := make(chan indexedLine, 256)
	for i, w := range ws {
		go func() {
			for l := range w.lines {
				out <- indexedLine{i, l}
			}
		}()
	}
	return out
}

// labOrder lists, for each shard, the lab's open ports in the order the
// shard's walk reaches them.
func labOrder(t *testing.T, spec Spec) map[int][]string {
	t.Helper()
	sp, err := spec.Space(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	open := map[string]bool{}
	for _, a := range lab.Services {
		open[netip.MustParseAddrPort(a).String()] = true
	}
	order := map[int][]string{}
	for i := 1; i <= spec.Shards; i++ {
		for _, tg := range sp.Walk(spec.Walk(i)) {
			if open[tg.String()] {
				order[i] = append(order[i], tg.String())
			}
		}
	}
	return order
}

func startWorkers(t *testing.T, n int, natsURL, dsn string) []*workerProc {
	var ws []*workerProc
	for i := range n {
		ws = append(ws, startWorker(t, fmt.Sprintf("w%d", i+1), natsURL, dsn))
	}
	return ws
}

func sumLogs(ws []*workerProc, msg, field string) int {
	n := 0
	for _, w := range ws {
		n += w.logCount(msg, field)
	}
	return n
}

// TestWorkerKilled kills one of three workers with SIGKILL in the middle of
// a shard, after it stored an observation of it and before the shard's
// last lab port: the shard goes to another worker, which finds that
// observation stored already, and the scan ends with what one process
// stores, once each.
func TestWorkerKilled(t *testing.T) {
	spec := labSpec(t)
	want := reference(t, spec)
	ns := natstest.Start(t, natsHost)
	js := connectNATS(t, ns.URL())
	dsn := pgtest.NewDatabase(t)
	st := openStore(t, dsn)
	seedHistory(t, st)
	c := &Coordinator{JS: js, Store: st, AckWait: testAckWait, Transient: postgres.IsTransient}
	run := startScan(t, c, "killed", spec)
	ws := startWorkers(t, 3, ns.URL(), dsn)
	order := labOrder(t, spec)

	lines := merge(ws)
	victim := -1
	var killedShard int
	deadline := time.After(testTimeout)
	for victim < 0 {
		select {
		case l := <-lines:
			target, _, _ := strings.Cut(l.Key, "/")
			seq := order[l.Shard]
			if i := indexOf(seq, target); i >= 0 && i < len(seq)-1 {
				victim, killedShard = l.worker, l.Shard
			}
		case err := <-run.result:
			t.Fatalf("the scan ended before a worker could be killed mid-shard: %v", err)
		case <-deadline:
			t.Fatal("no worker reached the middle of a shard")
		}
	}
	if err := ws[victim].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed worker %s (SIGKILL) in shard %d, which holds lab ports %v", ws[victim].name, killedShard, order[killedShard])
	go func() {
		for range lines {
		}
	}()
	sc := run.wait(t)
	got := checkSame(t, dsn, st, want, "killed")
	dups := sumLogs(ws, "observations stored already by an earlier delivery", "count")
	if dups == 0 {
		t.Error("no worker found an observation of the killed worker's shard stored already")
	}
	t.Logf("scan done: %d shards, %d targets, %d exposed, %d closed; store: %d exposures, %d events (one process: %d, %d); %d observations re-delivered and stored once",
		sc.Progress.Shards, sc.Progress.Targets, sc.Progress.Exposed, sc.Progress.Closed,
		len(got.Exposures), got.events(), len(want.Exposures), want.events(), dups)
	for i, w := range ws {
		if i != victim {
			w.stop(t)
		}
	}
}

// TestNATSRestart kills the NATS server while the workers scan and starts
// it again two seconds later on the same storage: the workers reconnect and
// the scan completes with what one process stores.
func TestNATSRestart(t *testing.T) {
	spec := labSpec(t)
	want := reference(t, spec)
	ns := natstest.Start(t, natsHost)
	js := connectNATS(t, ns.URL())
	dsn := pgtest.NewDatabase(t)
	st := openStore(t, dsn)
	seedHistory(t, st)
	c := &Coordinator{JS: js, Store: st, AckWait: testAckWait, Transient: postgres.IsTransient}
	run := startScan(t, c, "nats-restart", spec)
	ws := startWorkers(t, 3, ns.URL(), dsn)
	lines := merge(ws)
	waitLine(t, lines, run)
	go func() {
		for range lines {
		}
	}()

	ns.Kill()
	t.Log("NATS killed")
	time.Sleep(2 * time.Second)
	ns.Restart(t)
	t.Log("NATS started again")
	sc := run.wait(t)
	got := checkSame(t, dsn, st, want, "nats-restart")
	t.Logf("scan done: %d shards, %d targets; store: %d exposures, %d events (one process: %d, %d); shard deliveries found done already: %d, handed back: %d",
		sc.Progress.Shards, sc.Progress.Targets, len(got.Exposures), got.events(), len(want.Exposures), want.events(),
		sumLogs(ws, "shard already done", ""), sumLogs(ws, "shard failed; handed back", ""))
	for _, w := range ws {
		w.stop(t)
	}
}

// TestPostgresOutage stops the store's PostgreSQL (immediate shutdown, as in
// a crash) while the workers scan and starts it again three seconds later:
// the workers retry, and the scan completes with what one process stores.
func TestPostgresOutage(t *testing.T) {
	spec := labSpec(t)
	want := reference(t, spec)
	pg := startPostgres(t)
	dsn := pgtest.NewDatabaseOn(t, pg.host, pg.port)
	ns := natstest.Start(t, natsHost)
	js := connectNATS(t, ns.URL())
	st := openStore(t, dsn)
	seedHistory(t, st)
	c := &Coordinator{JS: js, Store: st, AckWait: testAckWait, Transient: postgres.IsTransient}
	run := startScan(t, c, "pg-outage", spec)
	ws := startWorkers(t, 3, ns.URL(), dsn)
	lines := merge(ws)
	waitLine(t, lines, run)
	go func() {
		for range lines {
		}
	}()

	pg.crash(t)
	t.Log("PostgreSQL stopped")
	time.Sleep(3 * time.Second)
	pg.start(t)
	t.Log("PostgreSQL started again")
	sc := run.wait(t)
	got := checkSame(t, dsn, st, want, "pg-outage")
	t.Logf("scan done: %d shards, %d targets; store: %d exposures, %d events (one process: %d, %d); store calls retried: %d, shards handed back: %d",
		sc.Progress.Shards, sc.Progress.Targets, len(got.Exposures), got.events(), len(want.Exposures), want.events(),
		sumLogs(ws, "unavailable; retrying", ""), sumLogs(ws, "shard failed; handed back", ""))
	for _, w := range ws {
		w.stop(t)
	}
}

// waitLine waits for the first stored observation of any worker.
func waitLine(t *testing.T, lines <-chan indexedLine, run *clusterRun) {
	t.Helper()
	select {
	case <-lines:
	case err := <-run.result:
		t.Fatalf("the scan ended before the fault: %v", err)
	case <-time.After(testTimeout):
		t.Fatal("no worker stored anything")
	}
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// TestStopCancelResume stops a worker with SIGTERM in the middle of a shard
// (it hands the shard back and exits 0), cancels the scan, resumes it and
// lets a second worker finish it.
func TestStopCancelResume(t *testing.T) {
	spec := labSpec(t)
	want := reference(t, spec)
	ns := natstest.Start(t, natsHost)
	js := connectNATS(t, ns.URL())
	dsn := pgtest.NewDatabase(t)
	st := openStore(t, dsn)
	seedHistory(t, st)
	c := &Coordinator{JS: js, Store: st, AckWait: testAckWait, Transient: postgres.IsTransient}
	run := startScan(t, c, "stop-cancel-resume", spec)
	w1 := startWorker(t, "w1", ns.URL(), dsn)
	waitLine(t, merge([]*workerProc{w1}), run)

	w1.stop(t)
	if code := w1.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("worker stopped by SIGTERM exited %d, want 0", code)
	}
	if n := w1.logCount("worker stopping; shard handed back", ""); n != 1 {
		t.Errorf("the stopped worker handed back %d shards, want 1", n)
	}

	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	sc, err := Cancel(ctx, js, "stop-cancel-resume")
	if err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	if sc.State != StateCancelled {
		t.Errorf("state after Cancel = %s", sc.State)
	}
	if err := <-run.result; err != nil || run.final.State != StateCancelled {
		t.Fatalf("Follow of a cancelled scan = %v, %v; want state cancelled and no error", run.final.State, err)
	}
	if _, err := Cancel(ctx, js, "stop-cancel-resume"); err == nil {
		t.Error("a second Cancel succeeded")
	}
	list, err := List(ctx, js)
	if err != nil || len(list) != 1 || list[0].State != StateCancelled {
		t.Errorf("List = %v, %v; want the cancelled scan", list, err)
	}

	if _, err := c.Resume(ctx, "stop-cancel-resume"); err != nil {
		t.Fatalf("Resume: %v", err)
	}
	startWorker(t, "w2", ns.URL(), dsn)
	final, err := c.Follow(ctx, "stop-cancel-resume", nil)
	if err != nil {
		t.Fatalf("Follow after Resume: %v", err)
	}
	if final.State != StateFinished || final.Round != 2 {
		t.Errorf("after Resume: state %s, round %d; want finished, 2", final.State, final.Round)
	}
	checkSame(t, dsn, st, want, "stop-cancel-resume")
	if _, err := c.Resume(ctx, "stop-cancel-resume"); err == nil {
		t.Error("Resume of a finished scan succeeded")
	}
	if _, err := Get(ctx, js, "no-such-scan"); !errors.Is(err, ErrNoScan) {
		t.Errorf("Get of an unknown scan = %v, want ErrNoScan", err)
	}
}
