package nats

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestNext(t *testing.T) {
	tests := []struct {
		name string
		in   string
		keep int
		want op
		err  error
	}{
		{"ping", "PING\r\n", 0, op{Kind: "PING"}, nil},
		{"lower case", "pong\r\n", 0, op{Kind: "PONG"}, nil},
		{"err", "-ERR 'Authorization Violation'\r\n", 0, op{Kind: "-ERR", Arg: "'Authorization Violation'"}, nil},
		{"msg", "MSG a.b 1 5\r\nhello\r\n", 64, op{Kind: "MSG", Arg: "a.b 1 5", Subject: "a.b", SID: "1", Payload: []byte("hello"), Size: 5}, nil},
		{"msg with reply, kept short", "MSG a 2 _INBOX.x 5\r\nhello\r\n", 2, op{Kind: "MSG", Arg: "a 2 _INBOX.x 5", Subject: "a", SID: "2", Reply: "_INBOX.x", Payload: []byte("he"), Size: 5}, nil},
		{"hmsg", "HMSG _INBOX.x 2 16 16\r\nNATS/1.0 503\r\n\r\n\r\n", 64, op{Kind: "HMSG", Arg: "_INBOX.x 2 16 16", Subject: "_INBOX.x", SID: "2", Header: []byte("NATS/1.0 503\r\n\r\n"), Payload: []byte{}}, nil},
		{"msg without CRLF after payload", "MSG a 1 2\r\nhiXX", 64, op{}, ErrProtocol},
		{"msg size not a number", "MSG a 1 x\r\n", 64, op{}, ErrProtocol},
		{"msg too large", "MSG a 1 99999999\r\n", 64, op{}, ErrTooLarge},
		{"hmsg header past total", "HMSG a 1 10 5\r\n", 64, op{}, ErrProtocol},
		{"msg cut short", "MSG a 1 10\r\nabc", 64, op{}, io.ErrUnexpectedEOF},
		{"unknown", "HELLO\r\n", 0, op{}, ErrProtocol},
		{"line too long", strings.Repeat("x", maxLine+1), 0, op{}, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := newReader(strings.NewReader(tt.in)).next(tt.keep)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("error %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil || o.Kind != tt.want.Kind || o.Arg != tt.want.Arg || o.Subject != tt.want.Subject ||
				o.SID != tt.want.SID || o.Reply != tt.want.Reply || !bytes.Equal(o.Header, tt.want.Header) ||
				!bytes.Equal(o.Payload, tt.want.Payload) || o.Size != tt.want.Size {
				t.Fatalf("next = %+v, %v; want %+v", o, err, tt.want)
			}
		})
	}
}

func TestParseInfo(t *testing.T) {
	info, err := parseInfo(`INFO {"server_id":"N1","version":"2.9.10","auth_required":true,"jetstream":true,"connect_urls":["10.0.0.2:4222"]}`)
	if err != nil || info.Version != "2.9.10" || !info.AuthRequired || !info.JetStream || len(info.ConnectURLs) != 1 {
		t.Fatalf("parseInfo = %+v, %v", info, err)
	}
	for _, bad := range []string{"+OK", "INFO", "INFO nope", "-ERR 'x'"} {
		if _, err := parseInfo(bad); !errors.Is(err, ErrProtocol) {
			t.Errorf("parseInfo(%q) = %v, want ErrProtocol", bad, err)
		}
	}
}

func TestStatus(t *testing.T) {
	for in, want := range map[string]int{"NATS/1.0 503\r\n\r\n": 503, "NATS/1.0\r\nA: b\r\n\r\n": 0, "": 0, "NATS/1.0 40": 0} {
		if got := status([]byte(in)); got != want {
			t.Errorf("status(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestSubjectGroup(t *testing.T) {
	for in, want := range map[string]string{"orders.created": "orders.>", "x": "x.>", "$JS.EVENT.ADVISORY.API": "$JS.>", "_INBOX.abc.1": "_INBOX.>"} {
		if got := subjectGroup(in); got != want {
			t.Errorf("subjectGroup(%q) = %q, want %q", in, got, want)
		}
	}
	if !system("$JS.>") || system("orders.>") {
		t.Error("system groups misjudged")
	}
}

// FuzzReader feeds arbitrary server bytes to the reader and the parsers of
// what it returns: no input may panic or return more than was kept.
func FuzzReader(f *testing.F) {
	f.Add([]byte("INFO {\"version\":\"2.9.10\"}\r\nPING\r\nMSG a 1 2\r\nhi\r\n"))
	f.Add([]byte("HMSG _INBOX.x.1 2 16 20\r\nNATS/1.0 503\r\n\r\nbody\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rd := newReader(bytes.NewReader(b))
		if l, err := rd.line(); err == nil {
			_, _ = parseInfo(l)
		}
		for range 64 {
			o, err := rd.next(16)
			if err != nil {
				return
			}
			if len(o.Payload) > 16 || len(o.Payload) > o.Size {
				t.Fatalf("kept %d bytes of %d with a limit of 16", len(o.Payload), o.Size)
			}
			status(o.Header)
			sampleDoc(o.Subject, o.Payload)
		}
	})
}
