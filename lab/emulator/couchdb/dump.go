package couchdb

import (
	"encoding/json"
	"io"

	"github.com/ajar-scan/ajar/lab/emulator"
)

// Dump writes datasets as the seed file lab/pouchdb/server.js loads:
// {"databases":[{"name":…,"docs":[{"_id":…,…},…]}]}, every stored document
// of each.
func Dump(w io.Writer, datasets []emulator.Dataset) error {
	type db struct {
		Name string         `json:"name"`
		Docs []emulator.Doc `json:"docs"`
	}
	var out struct {
		Databases []db `json:"databases"`
	}
	for _, d := range datasets {
		x := db{Name: d.Name, Docs: make([]emulator.Doc, 0, d.Stored)}
		for i := 1; i <= d.Stored; i++ {
			x.Docs = append(x.Docs, append(emulator.Doc{{Name: "_id", Value: d.ID(i)}}, d.Doc(i)...))
		}
		out.Databases = append(out.Databases, x)
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}
