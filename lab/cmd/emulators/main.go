// Command emulators serves one emulated data store of the lab — an
// Elasticsearch, OpenSearch, Kibana, CouchDB or Solr release in a given
// state of security — on a loopback address, from the documented answers of
// the product. Every writing request is refused and logged.
//
// Usage:
//
//	emulators -listen 127.0.10.40:9200 -product elasticsearch -version 7.17.9 -variant open
//	emulators -listen 127.0.10.46:5601 -product kibana -version 7.17.9 -variant open -es-variant open
//	emulators -product couchdb -dump > seed.json   # the seed of lab/pouchdb
//
// Once it listens it prints "listening on ADDR:PORT" on standard output.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ajar-scan/ajar/lab/emulator"
	"github.com/ajar-scan/ajar/lab/emulator/couchdb"
	"github.com/ajar-scan/ajar/lab/emulator/elasticsearch"
	"github.com/ajar-scan/ajar/lab/emulator/kibana"
	"github.com/ajar-scan/ajar/lab/emulator/solr"
)

// defaultVersions are the releases served when -version is not given.
var defaultVersions = map[string]string{
	"elasticsearch": "7.17.9",
	"opensearch":    "2.11.0",
	"kibana":        "7.17.9",
	"couchdb":       "3.3.3",
	"solr":          "9.4.1",
}

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "emulators:", err)
		os.Exit(2)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("emulators", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "", "loopback ADDR:PORT to serve on (port 0 picks one)")
	product := fs.String("product", "", "elasticsearch, opensearch, kibana, couchdb or solr")
	version := fs.String("version", "", "release to emulate (default: the product's lab release)")
	variant := fs.String("variant", "open", "open, secured, ransomed (elasticsearch, opensearch) or adminparty (couchdb)")
	esVariant := fs.String("es-variant", "open", "kibana: variant of the cluster behind it")
	dump := fs.Bool("dump", false, "couchdb: write the express-pouchdb seed to standard output and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *version == "" {
		*version = defaultVersions[*product]
	}
	if *dump {
		if *product != "couchdb" {
			return errors.New("-dump is for -product couchdb")
		}
		return couchdb.Dump(stdout, emulator.PouchDatasets())
	}
	log := slog.New(slog.NewTextHandler(stderr, nil)).With("product", *product, "version", *version, "variant", *variant)
	h, err := handler(*product, *version, *variant, *esVariant, log)
	if err != nil {
		return err
	}
	ap, err := netip.ParseAddrPort(*listen)
	if err != nil || !ap.Addr().IsLoopback() || !ap.Addr().Is4() {
		return fmt.Errorf("-listen %q: want an IPv4 loopback ADDR:PORT (127.0.0.0/8)", *listen)
	}
	ln, err := net.Listen("tcp", ap.String())
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	fmt.Fprintln(stdout, "listening on", ln.Addr())
	log.Info("serving", "addr", ln.Addr().String())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// handler builds the emulator of product.
func handler(product, version, variant, esVariant string, log *slog.Logger) (http.Handler, error) {
	switch product {
	case "elasticsearch", "opensearch":
		return elasticsearch.New(product, version, variant, log)
	case "kibana":
		es, err := elasticsearch.New("elasticsearch", version, esVariant, log.With("behind", "kibana"))
		if err != nil {
			return nil, fmt.Errorf("cluster behind Kibana: %w", err)
		}
		return kibana.New(version, variant, es, log)
	case "couchdb":
		return couchdb.New(version, variant, log)
	case "solr":
		return solr.New(version, variant, log)
	}
	return nil, fmt.Errorf("-product %q: want elasticsearch, opensearch, kibana, couchdb or solr", product)
}
