package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/breach"
	"github.com/ajar-scan/ajar/breach/api"
	"github.com/ajar-scan/ajar/breach/client"
	"github.com/ajar-scan/ajar/breach/ident"
	"github.com/ajar-scan/ajar/breach/leakfile"
	"github.com/ajar-scan/ajar/breach/query"
	"github.com/ajar-scan/ajar/breach/rangedb"
	"github.com/ajar-scan/ajar/breach/service"
)

func (a *app) breachCommand() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "breach",
		Short: "Import leaked datasets and check identifiers against them without revealing them",
		Long: `breach imports leaked datasets (CSV, TSV, JSON Lines, optionally gzip) into a
range store of hashed identifiers beside the main store, serves the range API,
and checks a phone number, ID number or e-mail address against it while
sending the server only a 5-hex-digit hash prefix (and, in private mode, a
blinded element: RFC 9497 OPRF). See docs/breach.md for what each side learns.`,
		Example: `  ajar breach import dump.csv.gz --name shanghai-police-2022 --date 2022-06-30 --region CN
  ajar breach check +8613812345678
  ajar breach serve --listen 127.0.0.1:8080
  ajar breach check 13812345678 --server http://127.0.0.1:8080`,
	}
	cmd.PersistentFlags().StringVar(&dir, "breach-dir", "", "breach range store (default: the store path + .breach)")
	breachDir := func() (string, error) {
		if dir != "" {
			return dir, nil
		}
		p, err := a.storePath()
		if err != nil {
			return "", err
		}
		return p + ".breach", nil
	}
	cmd.AddCommand(a.breachImportCommand(breachDir), a.breachCheckCommand(breachDir),
		a.breachServeCommand(breachDir), a.breachListCommand(breachDir))
	return cmd
}

func (a *app) breachImportCommand(breachDir func() (string, error)) *cobra.Command {
	var (
		o                rangedb.ImportOptions
		phone, id, email string
		format           string
		private, hashed  bool
		asJSON           bool
	)
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Import a leaked dataset into the breach range store",
		Long: `import reads a leak (CSV, TSV or JSON Lines, plain or gzip; FILE "-" is
stdin), normalises its phone numbers (E.164), resident ID numbers and e-mail
addresses, and merges their hashes into the range store. Nothing but hashes
and OPRF outputs is stored. Columns are found by header name (phone, mobile,
手机, sjhm; id_number, sfzh, 身份证; email, 邮箱) or named with --phone, --id
and --email. Phone and ID numbers are indexed in private mode (OPRF) and
e-mail addresses hashed, unless --private or --hashed says otherwise.

The import writes a new generation of the store and swaps it in at the end:
an import that fails or is interrupted leaves the store as it was.`,
		Example: `  ajar breach import dump.csv --name shanghai-police-2022 --date 2022-06-30
  ajar breach import users.jsonl.gz --name shop-2023 --date 2023-03-01 --phone tel --region CN --exposure 127.0.10.5:9200`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Name == "" || o.Date == "" {
				return usagef("import needs --name NAME and --date YYYY-MM-DD (when the data leaked)")
			}
			if private && hashed {
				return usagef("give --private or --hashed, not both")
			}
			f, err := leakfile.ParseFormat(format)
			if err != nil {
				return usageError{err}
			}
			o.Format = f
			o.Columns = map[breach.Kind]string{breach.KindPhone: phone, breach.KindID: id, breach.KindEmail: email}
			if private || hashed {
				m := breach.ModePrivate
				if hashed {
					m = breach.ModeHashed
				}
				o.Modes = map[breach.Kind]breach.Mode{breach.KindPhone: m, breach.KindID: m, breach.KindEmail: m}
			}
			dir, err := breachDir()
			if err != nil {
				return err
			}
			return a.runBreachImport(cmd.Context(), dir, args[0], o, asJSON)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Name, "name", "", "name of the breach, unique in the store (required)")
	fl.StringVar(&o.Date, "date", "", "when the data leaked, YYYY-MM-DD (required)")
	fl.StringVar(&o.Description, "description", "", "what the leak is, in a sentence")
	fl.StringVar(&phone, "phone", "", "column of phone numbers")
	fl.StringVar(&id, "id", "", "column of resident ID numbers")
	fl.StringVar(&email, "email", "", "column of e-mail addresses")
	fl.StringVar(&o.Region, "region", "CN", "region of phone numbers written without a country code")
	fl.StringVar(&format, "format", "", "csv, tsv or jsonl (default: detected)")
	fl.BoolVar(&private, "private", false, "index every kind in private mode (OPRF)")
	fl.BoolVar(&hashed, "hashed", false, "index every kind as plain hashes (brute-forceable for phone numbers)")
	fl.StringVar(&o.Exposure, "exposure", "", "IP:PORT of the exposed store the leak came from")
	fl.StringSliceVar(&o.Classes, "classes", nil, "data classes to record besides those found (e.g. address,criminal_record)")
	fl.BoolVar(&o.Replace, "replace", false, "replace a breach of the same name")
	fl.BoolVar(&o.AcceptTruncated, "accept-truncated", false, "import the rows read from an input that ends early")
	fl.BoolVar(&asJSON, "json", false, "print the summary as JSON")
	return cmd
}

func (a *app) runBreachImport(ctx context.Context, dir, file string, o rangedb.ImportOptions, asJSON bool) error {
	var src io.Reader = a.stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return usagef("open leak: %v", err)
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil {
			if st.IsDir() {
				return usagef("open leak: %s is a directory", file)
			}
			o.Size = st.Size()
		}
		src = f
	}
	if !a.quiet {
		p := &importProgress{w: a.stderr, terminal: a.isTerminal}
		o.Progress = p.print
	}
	sum, err := rangedb.Import(ctx, dir, src, o)
	var ie *rangedb.InputError
	switch {
	case errors.As(err, &ie):
		return usageError{fmt.Errorf("import %s: %w", file, err)}
	case err != nil && ctx.Err() != nil:
		return fmt.Errorf("import %s: interrupted; the store is unchanged", file)
	case err != nil:
		return fmt.Errorf("import %s: %w", file, err)
	}
	if asJSON {
		return json.NewEncoder(a.stdout).Encode(sum)
	}
	if a.quiet {
		return nil
	}
	b := sum.Breach
	fmt.Fprintf(a.stdout, "imported breach %d %q (%s) into %s\n", b.ID, b.Name, b.Date, dir)
	format := sum.Format
	if sum.Compressed {
		format += ", gzip"
	}
	t := newTable(a.stdout, "  read", fmt.Sprintf("%d rows (%s)", sum.Rows, format))
	for _, k := range breach.Kinds {
		col, ok := sum.Columns[k]
		if !ok {
			continue
		}
		t.row("  "+string(k), fmt.Sprintf("%d %s, column %q", sum.Identifiers[k], b.Identifiers[k].Mode, col))
		if p := sum.Invalid[k]; p != nil && p.Count > 0 {
			t.row("  invalid "+string(k), problem(*p))
		}
	}
	if sum.Malformed.Count > 0 {
		t.row("  malformed rows", problem(sum.Malformed))
	}
	if sum.BadEncoding.Count > 0 {
		t.row("  not UTF-8", problem(sum.BadEncoding)+", identifiers still read")
	}
	t.row("  duplicates", fmt.Sprint(sum.Duplicates))
	if sum.Truncated != "" {
		t.row("  truncated", sum.Truncated)
	}
	t.row("  took", sum.Elapsed.Round(time.Millisecond).String())
	return t.flush()
}

func problem(p rangedb.Problem) string {
	s := fmt.Sprint(p.Count)
	if len(p.Lines) > 0 {
		lines := make([]string, len(p.Lines))
		for i, l := range p.Lines {
			lines[i] = fmt.Sprint(l)
		}
		more := ""
		if p.Count > int64(len(p.Lines)) {
			more = ", …"
		}
		s += " (lines " + strings.Join(lines, ", ") + more + ")"
	}
	return s
}

// importProgress draws the import's progress line on stderr.
type importProgress struct {
	w        io.Writer
	terminal bool
	last     time.Time
}

func (p *importProgress) print(pr rangedb.Progress) {
	if !pr.Final && !p.terminal && time.Since(p.last) < 5*time.Second {
		return
	}
	p.last = time.Now()
	read := ajar.FormatBytes(pr.BytesRead)
	if pr.BytesTotal > 0 {
		read += fmt.Sprintf(" / %s (%.0f%%)", ajar.FormatBytes(pr.BytesTotal), 100*float64(pr.BytesRead)/float64(pr.BytesTotal))
	}
	rate := 0.0
	if s := pr.Elapsed.Seconds(); s > 0 {
		rate = float64(pr.Rows) / s
	}
	line := fmt.Sprintf("%s  %d rows  %.0f rows/s  %d identifiers  %s", read, pr.Rows, rate, pr.Identifiers, pr.Phase)
	if p.terminal {
		fmt.Fprintf(p.w, "\r\x1b[K%s", line)
		if pr.Final {
			fmt.Fprintln(p.w)
		}
		return
	}
	fmt.Fprintln(p.w, line)
}

func (a *app) breachCheckCommand(breachDir func() (string, error)) *cobra.Command {
	var (
		kind, region, server string
		asJSON               bool
	)
	cmd := &cobra.Command{
		Use:   "check VALUE",
		Short: "Check whether a phone number, ID number or e-mail address is in a leak",
		Long: `check normalises and hashes VALUE here and sends the server only the first 5
hex digits of the hash, and in private mode a blinded element; it matches the
answer here. Without --server it asks the local breach store the same way.

Exit status: 0 found, 1 not found, 2 bad input, 3 server failure.`,
		Example: `  ajar breach check 13812345678
  ajar breach check zhang@example.com --server http://127.0.0.1:8080
  ajar breach check "020 7946 0958" --kind phone --region GB`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var k breach.Kind
			if kind != "" {
				var err error
				if k, err = breach.ParseKind(kind); err != nil {
					return usageError{err}
				}
			}
			n, err := ident.NewNormalizer(region)
			if err != nil {
				return usageError{err}
			}
			q, err := query.New(n, k, args[0])
			if err != nil {
				return usagef("check: %v", strings.TrimPrefix(err.Error(), ident.ErrInvalid.Error()+": "))
			}
			c, closeLocal, err := a.breachClient(server, breachDir)
			if err != nil {
				return err
			}
			defer closeLocal()
			res, err := c.Check(cmd.Context(), q)
			if err != nil {
				where := server
				if where == "" {
					where = "the local breach store"
				}
				return fmt.Errorf("check against %s: %w", where, err)
			}
			if asJSON {
				if err := json.NewEncoder(a.stdout).Encode(res); err != nil {
					return err
				}
			} else {
				printCheck(a.stdout, res)
			}
			if len(res.Breaches) == 0 {
				return exitCodeError{exitNo}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&kind, "kind", "", "phone, id or email (default: detected)")
	fl.StringVar(&region, "region", "CN", "region of a phone number written without a country code")
	fl.StringVar(&server, "server", "", "URL of a breach API (default: the local breach store)")
	fl.BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

// breachClient returns a client of the server, or of the local store through
// the same handler in-process, so both paths send the same requests.
func (a *app) breachClient(server string, breachDir func() (string, error)) (*client.Client, func(), error) {
	if server != "" {
		c, err := client.New(server, &http.Client{Timeout: 30 * time.Second})
		if err != nil {
			return nil, nil, usageError{err}
		}
		return c, func() {}, nil
	}
	dir, err := breachDir()
	if err != nil {
		return nil, nil, err
	}
	db, err := rangedb.Open(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("open breach store %s: %w", dir, err)
	}
	h := api.New(db, api.Options{})
	c, err := client.New("http://local", &http.Client{Transport: handlerTransport{h}})
	return c, func() { db.Close() }, err
}

// handlerTransport answers requests with a handler, without a network.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	r.RemoteAddr = "127.0.0.1:0"
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

func printCheck(w io.Writer, res *client.Result) {
	if len(res.Breaches) == 0 {
		fmt.Fprintf(w, "not found: this %s is in none of the known leaks (asked prefix %s, %s)\n",
			res.Kind, res.Prefix, modesText(res.Modes))
		return
	}
	fmt.Fprintf(w, "found in %d leak(s) (asked prefix %s, %s)\n", len(res.Breaches), res.Prefix, modesText(res.Modes))
	t := newTable(w, "BREACH", "DATE", "RECORDS", "CLASSES", "EXPOSURE")
	for _, b := range res.Breaches {
		t.row(b.Name, b.Date, fmt.Sprint(b.Records), strings.Join(b.Classes, ","), dash(b.Exposure))
	}
	t.flush()
}

func modesText(ms []breach.Mode) string {
	if len(ms) == 0 {
		return "no breach indexes this kind"
	}
	s := make([]string, len(ms))
	for i, m := range ms {
		s[i] = string(m)
	}
	return strings.Join(s, " and ") + " mode"
}

func (a *app) breachServeCommand(breachDir func() (string, error)) *cobra.Command {
	var (
		listen string
		rate   float64
		burst  int
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the breach range API and check page alone",
		Long: `serve answers GET /api/v1/breach/range/{prefix}, POST /api/v1/breach/private/{prefix}
and GET /api/v1/breaches, and serves the check page at /breach. Imports made
while it runs are picked up within a second.`,
		Example: `  ajar breach serve --listen 127.0.0.1:8080
  ajar breach serve --listen 127.0.0.1:8080 --rate-limit 0   # for load tests`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if rate < 0 || burst < 1 {
				return usagef("--rate-limit must be ≥ 0 and --burst ≥ 1")
			}
			dir, err := breachDir()
			if err != nil {
				return err
			}
			return a.runBreachServe(cmd.Context(), dir, listen, api.Options{RateLimit: rate, Burst: burst})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&listen, "listen", "127.0.0.1:8080", "address to listen on")
	fl.Float64Var(&rate, "rate-limit", api.DefaultRateLimit, "range requests per second per client address (0: no limit)")
	fl.IntVar(&burst, "burst", api.DefaultBurst, "requests a client may make at once")
	return cmd
}

func (a *app) runBreachServe(ctx context.Context, dir, listen string, o api.Options) error {
	db, err := rangedb.Open(dir)
	if err != nil {
		return fmt.Errorf("open breach store %s: %w", dir, err)
	}
	defer db.Close()
	o.Logger = slog.New(slog.NewTextHandler(a.stderr, nil))
	mux := service.New(db, o)
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return usagef("listen on %s: %v", listen, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	if !a.quiet {
		fmt.Fprintf(a.stderr, "serving the breach API and page on http://%s/breach (store %s)\n", ln.Addr(), dir)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve breach API: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		return nil
	}
}

func (a *app) breachListCommand(breachDir func() (string, error)) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the imported breaches",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := breachDir()
			if err != nil {
				return err
			}
			db, err := rangedb.Open(dir)
			if err != nil {
				return fmt.Errorf("open breach store %s: %w", dir, err)
			}
			defer db.Close()
			s, err := db.Snapshot()
			if err != nil {
				return fmt.Errorf("read breach store %s: %w", dir, err)
			}
			defer s.Release()
			if asJSON {
				for _, b := range s.Breaches {
					if err := json.NewEncoder(a.stdout).Encode(b); err != nil {
						return err
					}
				}
				return nil
			}
			if len(s.Breaches) == 0 {
				if !a.quiet {
					fmt.Fprintln(a.stdout, "no breaches imported")
				}
				return nil
			}
			t := newTable(a.stdout, "ID", "BREACH", "DATE", "RECORDS", "IDENTIFIERS", "CLASSES", "EXPOSURE")
			for _, b := range s.Breaches {
				var ids []string
				for _, k := range breach.Kinds {
					if ix, ok := b.Identifiers[k]; ok {
						ids = append(ids, fmt.Sprintf("%s %d (%s)", k, ix.Count, ix.Mode))
					}
				}
				t.row(fmt.Sprint(b.ID), b.Name, b.Date, fmt.Sprint(b.Records), strings.Join(ids, ", "), strings.Join(b.Classes, ","), dash(b.Exposure))
			}
			return t.flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per breach")
	return cmd
}
