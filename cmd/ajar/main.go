// Command ajar finds data stores left open, proves what they expose and
// tracks each exposure from the day it opens to the day it closes.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/ajar-scan/ajar"
	_ "github.com/ajar-scan/ajar/probe/all"
	"github.com/ajar-scan/ajar/store/sqlite"
)

// Exit codes, as in the command contract.
const (
	exitOK      = 0
	exitNo      = 1 // a yes/no question answered no
	exitUsage   = 2
	exitRuntime = 3
	// exitInterrupted follows the shell's convention for SIGINT (128+2).
	exitInterrupted = 130
)

// usageError is bad input: a flag, a target, a file the user named.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// app holds what every command shares: streams and the store flags.
type app struct {
	stdout, stderr io.Writer
	stdin          io.Reader
	db             string
	storeURL       string
	quiet          bool
	// isTerminal reports whether stderr is a terminal (progress lines).
	isTerminal bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdout: stdout, stderr: stderr, stdin: stdin, isTerminal: isTerminal(stderr)}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ec exitCodeError
	if errors.As(err, &ec) {
		return ec.code
	}
	fmt.Fprintln(stderr, "ajar: "+oneLine(err.Error()))
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		return exitUsage
	}
	return exitRuntime
}

// exitCodeError ends a command with a code and no message of its own.
type exitCodeError struct{ code int }

func (e exitCodeError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// isCobraUsage recognises cobra's own argument errors.
func isCobraUsage(err error) bool {
	s := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least", "invalid argument", "flag needs an argument", "bad flag syntax", "required flag"} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "ajar",
		Short: "Find data stores left open, prove what they expose, track them until they close",
		Long: `ajar scans addresses for data stores that answer without credentials
(Redis, MySQL/MariaDB, PostgreSQL, …), proves what they expose with read-only
requests (datasets, record counts, sizes, field names), and keeps every
observation so that each exposure has a first-seen, last-seen and closed-at.

Only scan networks you are allowed to scan. Reserved and special-purpose
ranges are excluded unless you name loopback explicitly or pass
--no-default-excludes.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Example: `  ajar scan 127.0.10.0/24                 # the default ports of every probe ("data")
  ajar scan 127.0.10.10 -p 6379,7000-7010 --json
  ajar list --status exposed
  ajar show 127.0.10.10:6379`,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&a.db, "db", "", "embedded store file (default ${XDG_DATA_HOME:-$HOME/.local/share}/ajar/ajar.db)")
	pf.StringVar(&a.storeURL, "store", "", "store URL: sqlite:PATH or postgres://USER@HOST:5432/DB (shared; cluster mode)")
	pf.BoolVarP(&a.quiet, "quiet", "q", false, "print no progress or summary lines")
	root.AddCommand(a.scanCommand(), a.discoverCommand(), a.listCommand(), a.showCommand(), a.findCommand(), a.serveCommand(), a.keysCommand(), a.discloseCommand(), a.reportCommand(), a.alertsCommand(), a.watchCommand(), a.workerCommand(), a.scansCommand(), a.breachCommand(), a.rangesCommand(), a.versionCommand())
	return root
}

// storePath resolves --db / --store to a SQLite file path.
func (a *app) storePath() (string, error) {
	switch {
	case a.db != "" && a.storeURL != "":
		return "", usagef("give --db or --store, not both")
	case a.db != "":
		return a.db, nil
	case a.storeURL != "":
		if p, ok := strings.CutPrefix(a.storeURL, "sqlite:"); ok && p != "" {
			return p, nil
		}
		return "", usagef("--store %q: only sqlite:PATH is supported by this build", a.storeURL)
	}
	dir := os.Getenv("XDG_DATA_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", usagef("no --db given and no home directory to keep the store in: %v", err)
		}
		dir = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(dir, "ajar", "ajar.db"), nil
}

// openStore opens the store named by the flags.
func (a *app) openStore(ctx context.Context) (ajar.Store, error) {
	if isPostgresURL(a.storeURL) {
		return a.openPostgres(ctx)
	}
	p, err := a.storePath()
	if err != nil {
		return nil, err
	}
	s, err := sqlite.Open(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w (choose another path with --db)", p, err)
	}
	return s, nil
}

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and the output schema",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(a.stdout, "ajar %s (output schema %s)\n", version, ajar.Schema)
			return nil
		},
	}
}

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"
