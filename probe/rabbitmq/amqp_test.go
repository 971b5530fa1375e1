package rabbitmq

import (
	"bufio"
	"bytes"
	"errors"
	"testing"
)

func TestParseStart(t *testing.T) {
	var props []byte
	props = append(appendShortString(props, "product"), 'S')
	props = appendLongString(props, "RabbitMQ")
	props = append(appendShortString(props, "version"), 'S')
	props = appendLongString(props, "3.10.8")
	var caps []byte
	caps = append(appendShortString(caps, "publisher_confirms"), 't', 1)
	caps = append(appendShortString(caps, "consumer_priorities"), 't', 0)
	props = append(appendShortString(props, "capabilities"), 'F', 0, 0, 0, byte(len(caps)))
	props = append(props, caps...)
	props = append(appendShortString(props, "n"), 'I', 0xff, 0xff, 0xff, 0xfe)
	props = append(appendShortString(props, "list"), 'A', 0, 0, 0, 6, 'b', 1, 'b', 2, 'V', 'V')

	r := bufio.NewReader(bytes.NewReader(startFrame(props)))
	f, err := readFrame(r)
	if err != nil {
		t.Fatal(err)
	}
	class, method, args, err := f.method()
	if err != nil || class != classConnection || method != methodStart {
		t.Fatalf("method %d.%d, %v", class, method, err)
	}
	st, err := parseStart(args)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"product": "RabbitMQ", "version": "3.10.8", "capabilities.publisher_confirms": "true",
		"capabilities.consumer_priorities": "false", "n": "-2", "list": "1,2,,"}
	for k, v := range want {
		if st.Properties[k] != v {
			t.Errorf("%s = %q, want %q (all: %v)", k, st.Properties[k], v, st.Properties)
		}
	}
	if st.Major != 0 || st.Minor != 9 || len(st.Mechanisms) != 2 || st.Mechanisms[0] != "PLAIN" || st.Locales[0] != "en_US" {
		t.Errorf("start %+v", st)
	}
}

func TestReadFrameErrors(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"AMQP 1.0 header", []byte("AMQP\x00\x01\x00\x00"), nil},
		{"no frame end", []byte{1, 0, 0, 0, 0, 0, 1, 'x', 'y'}, ErrProtocol},
		{"too large", []byte{1, 0, 0, 0, 0x10, 0, 1}, ErrProtocol},
		{"cut", []byte{1, 0, 0, 0, 0, 0, 9, 1}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readFrame(bufio.NewReader(bytes.NewReader(tt.in)))
			var h *errHeader
			switch {
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Errorf("error %v, want %v", err, tt.want)
			case tt.name == "AMQP 1.0 header" && (!errors.As(err, &h) || h.Error() != "the server asks for AMQP 1-0-0"):
				t.Errorf("error %v, want the server's header", err)
			case err == nil:
				t.Error("no error")
			}
		})
	}
}

func TestParseClose(t *testing.T) {
	args := append([]byte{1, 0x93}, appendShortString(nil, "ACCESS_REFUSED - Login was refused")...)
	args = append(args, 0, 0, 0, 0)
	c, err := parseClose(args)
	if err != nil || c.Code != 403 || c.Text != "ACCESS_REFUSED - Login was refused" {
		t.Fatalf("parseClose = %+v, %v", c, err)
	}
}

// FuzzParseStart feeds arbitrary server bytes to the frame reader and the
// Connection.Start and Close parsers.
func FuzzParseStart(f *testing.F) {
	var props []byte
	props = append(appendShortString(props, "product"), 'S')
	props = appendLongString(props, "RabbitMQ")
	f.Add(startFrame(props))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := readFrame(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			return
		}
		_, _, args, err := fr.method()
		if err != nil {
			return
		}
		st, err := parseStart(args)
		if err == nil && len(st.Properties) > maxProperties*2 {
			t.Fatalf("%d properties", len(st.Properties))
		}
		_, _ = parseClose(args)
	})
}
