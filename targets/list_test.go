package targets

import (
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadList(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		want      []Entry
		wantError string
	}{
		{
			name: "comments and blanks",
			in:   "\uFEFF# lab hosts\n127.0.10.5\n\n  127.0.10.0/24  # the /24\r\n\t\ndb.example\n",
			want: []Entry{
				{Value: "127.0.10.5", File: "t.txt", Line: 2},
				{Value: "127.0.10.0/24", File: "t.txt", Line: 4},
				{Value: "db.example", File: "t.txt", Line: 6},
			},
		},
		{name: "empty", in: ""},
		{name: "only comments", in: "# nothing\n#\n"},
		{name: "no final newline", in: "::1", want: []Entry{{Value: "::1", File: "t.txt", Line: 1}}},
		{
			name:      "bad line",
			in:        "127.0.10.5\n# fine\n\n127.0.10.300\n",
			wantError: `t.txt:4: bad target "127.0.10.300": ParseAddr`,
		},
		{name: "reversed range", in: "127.0.10.9-127.0.10.1", wantError: "t.txt:1: bad target"},
		{name: "long line", in: "127.0.10.5\n" + strings.Repeat("a", 5000) + "\n", wantError: "t.txt:2: line longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadList(strings.NewReader(tt.in), "t.txt")
			if tt.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantError) {
					t.Fatalf("ReadList error = %v, want one containing %q", err, tt.wantError)
				}
				return
			}
			if err != nil {
				t.Fatalf("ReadList: %v", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("ReadList = %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("entry %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}

	_, err := ReadList(iotest.ErrReader(iotest.ErrTimeout), "t.txt")
	if err == nil || !strings.Contains(err.Error(), "read t.txt: timeout") {
		t.Errorf("ReadList on a failing reader: %v", err)
	}
}

func TestEntryString(t *testing.T) {
	if got := (Entry{Value: "::1"}).String(); got != "::1" {
		t.Errorf("String = %q", got)
	}
	if got := (Entry{Value: "::1", File: "a.txt", Line: 3}).String(); got != "a.txt:3: ::1" {
		t.Errorf("String = %q", got)
	}
	if got := Entries("a", "b"); len(got) != 2 || got[1] != (Entry{Value: "b"}) {
		t.Errorf("Entries = %v", got)
	}
}
