package main

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/ajar-scan/ajar/lab/emulator"
)

func TestDump(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"-product", "couchdb", "-dump"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var seed struct {
		Databases []struct {
			Name string
			Docs []map[string]any
		}
	}
	if err := json.Unmarshal(out.Bytes(), &seed); err != nil {
		t.Fatal(err)
	}
	if len(seed.Databases) != 2 || len(seed.Databases[0].Docs) != emulator.PouchPersons || len(seed.Databases[1].Docs) != emulator.PouchCases {
		t.Errorf("seed: %d databases", len(seed.Databases))
	}
}

func TestRefusals(t *testing.T) {
	tests := [][]string{
		{"-listen", "0.0.0.0:9200", "-product", "elasticsearch"},
		{"-listen", "127.0.25.3:0", "-product", "mongodb"},
		{"-listen", "127.0.25.3:0", "-product", "elasticsearch", "-version", "5.6.16"},
		{"-listen", "127.0.25.3:0", "-product", "couchdb", "-variant", "ransomed"},
		{"-product", "solr", "-dump"},
	}
	for _, args := range tests {
		if err := run(args, io.Discard, io.Discard); err == nil {
			t.Errorf("%s: no error", strings.Join(args, " "))
		}
	}
}
