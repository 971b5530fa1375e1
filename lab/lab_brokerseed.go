//go:build ignore

// Command lab_brokerseed prints the seeding scripts of the lab's message
// brokers and ClickHouse, and loads and checks the NATS one, which no Debian
// client can. lab/kinds/5N-*.sh build and run it:
//
//	go build -o BIN lab/lab_brokerseed.go
//	BIN -target mosquitto|nats|rabbitmq|clickhouse      # the script, on stdout
//	BIN -target rabbitmq-counts                          # vhost, queue, messages
//	BIN -load ADDR [-user U -pass P] < nats script        # create the streams
//	BIN -check ADDR [-user U -pass P] < nats script       # exit 1 unless they hold it
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ajar-scan/ajar/lab"
)

func main() {
	target := flag.String("target", "", "print the script of mosquitto, nats, rabbitmq or clickhouse (or rabbitmq-counts)")
	load := flag.String("load", "", "load the NATS script from stdin into the server at this address")
	check := flag.String("check", "", "check that the NATS server at this address holds the script on stdin")
	user := flag.String("user", "", "NATS user")
	pass := flag.String("pass", "", "NATS password")
	flag.Parse()
	var err error
	switch {
	case *target != "":
		w := bufio.NewWriter(os.Stdout)
		if err = script(w, *target); err == nil {
			err = w.Flush()
		}
	case *load != "" || *check != "":
		err = natsRun(*load, *check, *user, *pass)
	default:
		err = errors.New("one of -target, -load or -check is required")
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "lab_brokerseed: %v\n", err)
		os.Exit(1)
	}
}

func script(w *bufio.Writer, target string) error {
	switch target {
	case "mosquitto":
		// One retained message a line: topic, a tab, the payload.
		for _, m := range lab.MosquittoRetained() {
			fmt.Fprintf(w, "%s\t%s\n", m.Subject, m.Payload)
		}
	case "nats":
		for _, s := range lab.NATSStreams() {
			fmt.Fprintf(w, "STREAM\t%s\t%s\n", s.Name, strings.Join(s.Subjects, ","))
			for _, m := range s.Messages {
				fmt.Fprintf(w, "MSG\t%s\t%s\n", m.Subject, m.Payload)
			}
		}
	case "rabbitmq":
		return rabbitScript(w)
	case "rabbitmq-counts":
		// What the management API lists once the script is loaded: vhost,
		// queue and messages, a line each, sorted.
		var lines []string
		for _, q := range lab.RabbitMQQueues() {
			lines = append(lines, fmt.Sprintf("%s %s %d", q.VHost, q.Name, len(q.Messages)))
		}
		sort.Strings(lines)
		for _, l := range lines {
			fmt.Fprintln(w, l)
		}
	case "clickhouse":
		return lab.WriteClickHouseSeed(w)
	default:
		return fmt.Errorf("unknown target %q", target)
	}
	return nil
}

// rabbitScript writes a curl configuration (curl -K) of management API
// calls: vhosts, permissions, durable queues emptied, then every message
// published persistent through the default exchange. @BASE@ and @USER@ stand
// for the API's base URL and user:password.
// https://www.rabbitmq.com/docs/management#http-api
func rabbitScript(w *bufio.Writer) error {
	n := 0
	block := func(method, path, data string) {
		// Blocks are separated by "next", which resets every option.
		if n++; n > 1 {
			w.WriteString("next\n")
		}
		fmt.Fprintf(w, "url = \"@BASE@%s\"\nuser = \"@USER@\"\nrequest = \"%s\"\nfail\nsilent\nshow-error\noutput = \"/dev/null\"\n", path, method)
		if data != "" {
			q := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(data)
			fmt.Fprintf(w, "header = \"content-type: application/json\"\ndata = \"%s\"\n", q)
		}
	}
	req := func(method, path string, body any) {
		b, _ := json.Marshal(body)
		block(method, path, string(b))
	}
	seen := map[string]bool{}
	for _, q := range lab.RabbitMQQueues() {
		vh := url.PathEscape(q.VHost)
		if !seen[q.VHost] {
			seen[q.VHost] = true
			req("PUT", "/api/vhosts/"+vh, map[string]any{})
			req("PUT", "/api/permissions/"+vh+"/@NAME@", map[string]string{"configure": ".*", "write": ".*", "read": ".*"})
		}
		qp := "/api/queues/" + vh + "/" + url.PathEscape(q.Name)
		req("PUT", qp, map[string]any{"durable": true})
		block("DELETE", qp+"/contents", "")
		for _, m := range q.Messages {
			req("POST", "/api/exchanges/"+vh+"/amq.default/publish", map[string]any{
				"properties":  map[string]any{"delivery_mode": 2, "content_type": "application/json"},
				"routing_key": q.Name, "payload": m, "payload_encoding": "string",
			})
		}
	}
	return nil
}

type stream struct {
	name     string
	subjects []string
	msgs     [][2]string
}

func readNATS(r io.Reader) ([]*stream, error) {
	var out []*stream
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), "\t", 3)
		switch {
		case len(f) == 3 && f[0] == "STREAM":
			out = append(out, &stream{name: f[1], subjects: strings.Split(f[2], ",")})
		case len(f) == 3 && f[0] == "MSG" && len(out) > 0:
			s := out[len(out)-1]
			s.msgs = append(s.msgs, [2]string{f[1], f[2]})
		default:
			return nil, fmt.Errorf("NATS script: bad line %q", sc.Text())
		}
	}
	return out, sc.Err()
}

// natsRun loads the streams (deleting any of the same name first) or checks
// their message counts.
func natsRun(load, check, user, pass string) error {
	streams, err := readNATS(os.Stdin)
	if err != nil {
		return err
	}
	addr := load + check
	opts := []nats.Option{nats.Timeout(5 * time.Second), nats.NoReconnect(), nats.DontRandomize()}
	if user != "" {
		opts = append(opts, nats.UserInfo(user, pass))
	}
	nc, err := nats.Connect("nats://"+addr, opts...)
	if err != nil {
		return fmt.Errorf("connect %s: %w", addr, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, s := range streams {
		if check != "" {
			st, err := js.Stream(ctx, s.name)
			if err != nil {
				return fmt.Errorf("stream %s: %w", s.name, err)
			}
			info, err := st.Info(ctx)
			if err != nil {
				return fmt.Errorf("stream %s: %w", s.name, err)
			}
			if info.State.Msgs != uint64(len(s.msgs)) {
				return fmt.Errorf("stream %s holds %d messages, want %d", s.name, info.State.Msgs, len(s.msgs))
			}
			continue
		}
		if err := js.DeleteStream(ctx, s.name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("delete stream %s: %w", s.name, err)
		}
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: s.name, Subjects: s.subjects, Storage: jetstream.FileStorage}); err != nil {
			return fmt.Errorf("create stream %s: %w", s.name, err)
		}
		for _, m := range s.msgs {
			if _, err := js.Publish(ctx, m[0], []byte(m[1])); err != nil {
				return fmt.Errorf("publish to %s: %w", m[0], err)
			}
		}
	}
	return nil
}
