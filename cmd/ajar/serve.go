package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/ajar-scan/ajar/breach/api"
	"github.com/ajar-scan/ajar/breach/rangedb"
	"github.com/ajar-scan/ajar/breach/service"
	"github.com/ajar-scan/ajar/server"
	"github.com/ajar-scan/ajar/web"
)

type serveFlags struct {
	alertFlags
	breachDir       string
	breachRate      float64
	listen          string
	tlsCert, tlsKey string
	trustedProxies  []string
	rate            int
}

func (a *app) serveCommand() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the JSON API and the web UI over the store",
		Long: `serve answers the JSON API (/api/v1/…, see /api/v1/openapi.json) and the web UI
over the store. Every API request needs a key: create one with
"ajar keys create --role reader" (or admin, to change disclosures and alert
rules); the UI logs in with a key too.`,
		Example: `  ajar serve --listen 127.0.0.1:8080
  ajar serve --listen 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem --trusted-proxy 10.0.0.0/8`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.runServe(cmd.Context(), &f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", "127.0.0.1:8080", "address to listen on")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "serve HTTPS with this certificate (PEM)")
	fl.StringVar(&f.tlsKey, "tls-key", "", "… and this key (PEM)")
	fl.StringSliceVar(&f.trustedProxies, "trusted-proxy", nil, "addresses or CIDRs whose X-Forwarded-For is believed")
	fl.IntVar(&f.rate, "rate-limit", 600, "requests per minute per API key")
	f.alertFlags.register(cmd)
	fl.StringVar(&f.breachDir, "breach-dir", "", "breach range store to serve (default: the store path + .breach, when it exists)")
	fl.Float64Var(&f.breachRate, "breach-rate-limit", api.DefaultRateLimit, "breach range requests per second per client address (0: no limit)")
	return cmd
}

// breachDirectory is where the breach range store lives.
func (f *serveFlags) breachDirectory(a *app) (string, error) {
	if f.breachDir != "" {
		return f.breachDir, nil
	}
	p, err := a.storePath()
	if err != nil {
		return "", err
	}
	return p + ".breach", nil
}

func (a *app) runServe(ctx context.Context, f *serveFlags) error {
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return usagef("--tls-cert and --tls-key go together")
	}
	if f.rate < 1 {
		return usagef("--rate-limit must be at least 1")
	}
	var proxies []netip.Prefix
	for _, p := range f.trustedProxies {
		pf, err := netip.ParsePrefix(p)
		if err != nil {
			ad, err2 := netip.ParseAddr(p)
			if err2 != nil {
				return usagef("--trusted-proxy %q: not an address or CIDR", p)
			}
			pf = netip.PrefixFrom(ad, ad.BitLen())
		}
		proxies = append(proxies, pf)
	}
	st, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	ss, ok := st.(server.Store)
	if !ok {
		return fmt.Errorf("this store cannot be served")
	}
	logger := slog.New(slog.NewTextHandler(a.stderr, nil))
	h := server.New(server.Config{Store: ss, RatePerMinute: f.rate, TrustedProxies: proxies,
		AllowPrivateWebhooks: f.allowPrivateWebhooks, Logger: logger})
	h.Mount(web.New(h, ss, web.Options{Logger: logger, Secure: f.tlsCert != ""}))
	if dir, err := f.breachDirectory(a); err == nil {
		// The breach range API and page, when a breach store exists.
		if db, err := rangedb.Open(dir); err == nil {
			defer db.Close()
			h.MountBreach(service.New(db, api.Options{RateLimit: f.breachRate, Burst: 30}))
		}
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return usagef("--listen %s: %v", f.listen, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: 5 * time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	scheme := "http"
	if f.tlsCert != "" {
		scheme = "https"
	}
	if !a.quiet {
		fmt.Fprintf(a.stderr, "ajar: serving %s://%s (API: /api/v1/, UI: /)\n", scheme, ln.Addr())
	}
	actx, stopAlerts := context.WithCancel(ctx)
	var alerts sync.WaitGroup
	alerts.Add(1)
	go func() { defer alerts.Done(); a.runAlerts(actx, st, &f.alertFlags, 5*time.Second) }()
	defer func() { stopAlerts(); alerts.Wait() }()
	errc := make(chan error, 1)
	go func() {
		if f.tlsCert != "" {
			errc <- srv.ServeTLS(ln, f.tlsCert, f.tlsKey)
			return
		}
		errc <- srv.Serve(ln)
	}()
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: %w", err)
		}
		return nil
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		return nil
	}
}
