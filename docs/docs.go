// Package docs holds the project's reference documents; it embeds the JSON
// Schema of the output contract so that tests can hold output against it.
package docs

import (
	"bytes"
	_ "embed"
	"fmt"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// SchemaJSON is docs/ajar-1.schema.json.
//
//go:embed ajar-1.schema.json
var SchemaJSON []byte

var compiled = sync.OnceValues(func() (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(SchemaJSON))
	if err != nil {
		return nil, fmt.Errorf("parse schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("ajar-1.schema.json", doc); err != nil {
		return nil, err
	}
	return c.Compile("ajar-1.schema.json")
})

// Validate checks one JSON object of the output against the ajar/1 schema.
func Validate(object []byte) error {
	s, err := compiled()
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(object))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return s.Validate(v)
}
