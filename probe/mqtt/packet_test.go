package mqtt

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestReadHeader(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want header
		err  error
	}{
		{"connack", []byte{0x20, 2}, header{Type: typeConnack, Length: 2}, nil},
		{"two-byte length", []byte{0x30, 0xc1, 0x02}, header{Type: typePublish, Length: 321}, nil},
		{"retained QoS 1", []byte{0x33, 0x7f}, header{Type: typePublish, Flags: 3, Length: 127}, nil},
		{"largest length", []byte{0x30, 0xff, 0xff, 0xff, 0x7f}, header{Type: typePublish, Length: 268_435_455}, nil},
		{"five-byte length", []byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01}, header{}, ErrProtocol},
		{"reserved type 0", []byte{0x00, 0}, header{}, ErrProtocol},
		{"reserved type 15", []byte{0xf0, 0}, header{}, ErrProtocol},
		{"cut length", []byte{0x30, 0x80}, header{}, io.ErrUnexpectedEOF},
		{"empty", nil, header{}, io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := readHeader(bufio.NewReader(bytes.NewReader(tt.in)))
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("error %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil || h != tt.want {
				t.Fatalf("readHeader = %+v, %v; want %+v", h, err, tt.want)
			}
		})
	}
}

func TestEncode(t *testing.T) {
	c := connectPacket("ajar-1", 30)
	want := []byte{0x10, 18, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 30, 0, 6, 'a', 'j', 'a', 'r', '-', '1'}
	if !bytes.Equal(c, want) {
		t.Errorf("CONNECT = % x, want % x", c, want)
	}
	s := subscribePacket(1, "#", "$SYS/#")
	want = []byte{0x82, 15, 0, 1, 0, 1, '#', 0, 0, 6, '$', 'S', 'Y', 'S', '/', '#', 0}
	if !bytes.Equal(s, want) {
		t.Errorf("SUBSCRIBE = % x, want % x", s, want)
	}
	// A remaining length of 200 takes two bytes.
	if p := appendPacket(nil, 0x30, make([]byte, 200)); p[1] != 0xc8 || p[2] != 0x01 || len(p) != 203 {
		t.Errorf("length 200 encoded as % x", p[1:3])
	}
}

func TestReadPublish(t *testing.T) {
	body := append(append([]byte{0, 3}, "a/b"...), "hello"...)
	pkt := appendPacket(nil, typePublish<<4|0x01, body)
	r := bufio.NewReader(bytes.NewReader(pkt))
	h, err := readHeader(r)
	if err != nil {
		t.Fatal(err)
	}
	p, err := readPublish(r, h, make([]byte, 3))
	if err != nil || p.Topic != "a/b" || !p.Retain || string(p.Payload) != "hel" || p.Size != 5 {
		t.Fatalf("readPublish = %+v, %v", p, err)
	}
	// QoS 1 carries a packet identifier before the payload.
	body = append(append([]byte{0, 1}, "t"...), 0, 9, 'x')
	r = bufio.NewReader(bytes.NewReader(appendPacket(nil, typePublish<<4|0x02, body)))
	h, _ = readHeader(r)
	if p, err = readPublish(r, h, make([]byte, 64)); err != nil || p.Topic != "t" || p.QoS != 1 || string(p.Payload) != "x" {
		t.Fatalf("readPublish QoS 1 = %+v, %v", p, err)
	}
}

// FuzzReadPacket feeds arbitrary bytes to the packet reader as the probe
// uses it: no input may panic or make it read past a packet's length.
func FuzzReadPacket(f *testing.F) {
	f.Add([]byte{0x20, 2, 0, 0, 0x90, 4, 0, 1, 0, 0})
	f.Add(appendPacket(nil, 0x31, append([]byte{0, 3, 'a', '/', 'b'}, `{"name":"x"}`...)))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bufio.NewReader(bytes.NewReader(b))
		scratch := make([]byte, 64)
		for range 64 {
			h, err := readHeader(r)
			if err != nil {
				return
			}
			switch h.Type {
			case typePublish:
				p, err := readPublish(r, h, scratch)
				if err != nil {
					return
				}
				if len(p.Payload) > len(scratch) || p.Size > h.Length {
					t.Fatalf("publish %+v from header %+v", p, h)
				}
				sampleDoc(p.Topic, p.Payload)
			default:
				body, err := readBody(r, h, maxControl)
				if err != nil {
					return
				}
				if len(body) != h.Length {
					t.Fatalf("body of %d bytes for length %d", len(body), h.Length)
				}
				_, _ = parseConnack(h, body)
				_, _ = parseSuback(body, subscribeID)
			}
		}
	})
}
