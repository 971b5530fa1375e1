// Command labfill seeds the lab's document, key-value and time-series stores
// (FerretDB, memcached, etcd, ZooKeeper, InfluxDB) with the records of lab/fake.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/ajar-scan/ajar/lab"
	"github.com/ajar-scan/ajar/lab/fake"
)

const usage = `usage: labfill -kind KIND -print
       labfill -kind KIND -addr IP:PORT [-user U -password P] -load FILE
       labfill -kind KIND -addr IP:PORT [-user U -password P] -check
       labfill -kind mongodb -addr IP:PORT -ping

KIND is mongodb, memcached, etcd, zookeeper or influxdb.
  -print   writes the seed (the records to load) on stdout; lab/up keeps it
           and reloads a server whenever it changes
  -load    empties the server's lab data and loads FILE, a seed -print wrote
  -check   exits 0 when the server holds exactly the seeded figures, 1 if not
  -ping    exits 0 when the server answers its protocol (the lab's readiness
           test, for a protocol no shell tool speaks)
`

// kind is what labfill knows of one kind of server.
type kind struct {
	// print writes the seed.
	print func(w *bufio.Writer, g fake.Generator) error
	// load loads a seed into the server at s.addr.
	load func(ctx context.Context, s server, seed io.Reader) error
	// check reports a mismatch between the server and the seeded figures.
	check func(ctx context.Context, s server) error
	// ping, when set, checks that the server answers.
	ping func(ctx context.Context, s server) error
}

// server is where to load or check, and the credentials, if any.
type server struct {
	addr, user, password string
}

var kinds = map[string]kind{
	"mongodb":   {printMongo, loadMongo, checkMongo, pingMongo},
	"memcached": {printMemcached, loadMemcached, checkMemcached, nil},
	"etcd":      {printEtcd, loadEtcd, checkEtcd, nil},
	"zookeeper": {printZooKeeper, loadZooKeeper, checkZooKeeper, nil},
	"influxdb":  {printInflux, loadInflux, checkInflux, nil},
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// errMismatch marks a check that found other figures than the seeded ones.
var errMismatch = errors.New("not the seeded figures")

// run returns the exit status: 0; 1 when -check finds other figures; 2 for a
// usage error; 3 when the server cannot be reached or refuses.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("labfill", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	name := fs.String("kind", "", "mongodb, memcached, etcd, zookeeper or influxdb")
	print := fs.Bool("print", false, "write the seed on stdout")
	load := fs.String("load", "", "load this seed")
	check := fs.Bool("check", false, "check the seeded figures")
	ping := fs.Bool("ping", false, "check that the server answers")
	var s server
	fs.StringVar(&s.addr, "addr", "", "server address, IP:PORT")
	fs.StringVar(&s.user, "user", "", "user name (secured variants)")
	fs.StringVar(&s.password, "password", "", "password (secured variants)")
	timeout := fs.Duration("timeout", 2*time.Minute, "bound on the whole run")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	k, ok := kinds[*name]
	modes := 0
	for _, on := range []bool{*print, *load != "", *check, *ping} {
		if on {
			modes++
		}
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "labfill: unexpected argument %q\n", fs.Arg(0))
		return 2
	case !ok:
		fmt.Fprintf(stderr, "labfill: unknown -kind %q\n", *name)
		return 2
	case modes != 1:
		fmt.Fprintln(stderr, "labfill: give exactly one of -print, -load, -check and -ping")
		return 2
	case *ping && k.ping == nil:
		fmt.Fprintf(stderr, "labfill: -ping is for mongodb only; lab/up checks %s with its own tools\n", *name)
		return 2
	case !*print && s.addr == "":
		fmt.Fprintln(stderr, "labfill: -addr is required")
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	var err error
	switch {
	case *print:
		w := bufio.NewWriterSize(stdout, 64<<10)
		if err = k.print(w, fake.New(lab.Seed)); err == nil {
			err = w.Flush()
		}
	case *load != "":
		var f *os.File
		if f, err = os.Open(*load); err == nil {
			err = k.load(ctx, s, bufio.NewReaderSize(f, 64<<10))
			f.Close()
		}
	case *ping:
		err = k.ping(ctx, s)
	default:
		err = k.check(ctx, s)
	}
	switch {
	case errors.Is(err, errMismatch):
		fmt.Fprintf(stderr, "labfill: %s %s: %v\n", *name, s.addr, err)
		return 1
	case err != nil:
		fmt.Fprintf(stderr, "labfill: %s %s: %v\n", *name, s.addr, err)
		return 3
	}
	return 0
}

// want compares one figure with its seeded value.
func want(what string, got, seeded int64) error {
	if got != seeded {
		return fmt.Errorf("%s: %d, want %d: %w", what, got, seeded, errMismatch)
	}
	return nil
}

// person is the JSON form of a person in the key-value stores.
type person struct {
	Name      string `json:"name"`
	Mobile    string `json:"mobile"`
	IDNumber  string `json:"id_number"`
	Address   string `json:"address"`
	BirthDate string `json:"birth_date,omitempty"`
	Gender    string `json:"gender,omitempty"`
}

func personOf(p fake.Person) person {
	return person{Name: p.Name, Mobile: p.Mobile, IDNumber: p.IDNumber, Address: p.Address}
}
