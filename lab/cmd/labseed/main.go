// Command labseed prints the script that seeds one kind of lab server with
// the fictional records of lab/fake: SQL for mariadb or psql, RESP for redis-cli.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/ajar-scan/ajar/lab"
	"github.com/ajar-scan/ajar/lab/fake"
)

const usage = `usage: labseed -target mysql|postgres|redis [-seed N]

Prints the seeding script on stdout; lab/up pipes it into the server's client:
  labseed -target mysql    | mariadb ...
  labseed -target postgres | psql -v ON_ERROR_STOP=1 ...
  labseed -target redis    | redis-cli --pipe ...
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run returns the exit status: 0, 2 for a usage error, 3 when writing fails.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("labseed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	target := fs.String("target", "", "mysql, postgres or redis")
	seed := fs.Uint64("seed", lab.Seed, "seed of the generated records")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "labseed: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	write, err := writerFor(*target)
	if err != nil {
		fmt.Fprintf(stderr, "labseed: %v\n", err)
		return 2
	}
	w := bufio.NewWriterSize(stdout, 64<<10)
	if err := write(w, fake.New(*seed), *seed); err != nil {
		fmt.Fprintf(stderr, "labseed: write %s script: %v\n", *target, err)
		return 3
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintf(stderr, "labseed: write %s script: %v\n", *target, err)
		return 3
	}
	return 0
}

type scriptWriter func(w *bufio.Writer, g fake.Generator, seed uint64) error

func writerFor(target string) (scriptWriter, error) {
	switch target {
	case "mysql":
		return func(w *bufio.Writer, g fake.Generator, seed uint64) error {
			return writeSQL(w, mysql, g, seed)
		}, nil
	case "postgres":
		return func(w *bufio.Writer, g fake.Generator, seed uint64) error {
			return writeSQL(w, postgres, g, seed)
		}, nil
	case "redis":
		return func(w *bufio.Writer, g fake.Generator, _ uint64) error {
			return writeRedis(w, g)
		}, nil
	case "":
		return nil, errors.New("-target is required (mysql, postgres or redis)")
	}
	return nil, fmt.Errorf("unknown target %q (want mysql, postgres or redis)", target)
}
