package identify

import (
	"testing"

	"github.com/ajar-scan/ajar/lab"
)

// TestLabClickHouse identifies the HTTP interface and the native protocol,
// open and secured (the secured ones on other ports).
func TestLabClickHouse(t *testing.T) {
	identifyLab(t, lab.ClickHouseOpenHTTP, "clickhouse", "ClickHouse", nil)
	identifyLab(t, lab.ClickHouseSecuredHTTP, "clickhouse", "ClickHouse", nil)
	identifyLab(t, lab.ClickHouseOpenNative, "clickhouse", "ClickHouse", nil)
	identifyLab(t, lab.ClickHouseSecuredNative, "clickhouse", "ClickHouse", nil)
}

func TestMatchClickHouse(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"hello", []byte("\x00\x0aClickHouse\x12\x10\xad\xa8\x03\x0dAsia/Shanghai"), true},
		{"exception", []byte("\x02\xc2\x00\x00\x00\x0dDB::Exception\x23Password required for user default."), true},
		{"other name", []byte("\x00\x05Other\x01\x01"), false},
		{"http", []byte("HTTP/1.1 400 Bad Request\r\n"), false},
	} {
		if _, ok := matchClickHouse(tc.in); ok != tc.ok {
			t.Errorf("%s: matchClickHouse = %v, want %v", tc.name, ok, tc.ok)
		}
	}
}
