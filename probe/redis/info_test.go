package redis

import (
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ajar-scan/ajar/probe/redis/resp"
)

const infoServer = "# Server\r\nredis_version:7.0.15\r\nredis_git_sha1:00000000\r\nredis_mode:standalone\r\nos:Linux 6.8.0 x86_64\r\ntcp_port:6379\r\n"

func TestInfoValue(t *testing.T) {
	tests := []struct {
		info, key string
		want      string
		ok        bool
	}{
		{infoServer, "redis_version", "7.0.15", true},
		{infoServer, "os", "Linux 6.8.0 x86_64", true},
		{infoServer, "redis", "", false},
		{infoServer, "# Server", "", false},
		{"used_memory:1024\nused_memory_human:1.00K\n", "used_memory", "1024", true},
		{"a:b:c\r\n", "a", "b:c", true},
		{"", "redis_version", "", false},
	}
	for _, tt := range tests {
		got, ok := infoValue([]byte(tt.info), tt.key)
		if got != tt.want || ok != tt.ok {
			t.Errorf("infoValue(%q, %q) = %q, %v; want %q, %v", tt.info, tt.key, got, ok, tt.want, tt.ok)
		}
	}
}

func TestInfoInt(t *testing.T) {
	tests := []struct {
		info string
		want int64
		ok   bool
	}{
		{"used_memory:1558191\r\n", 1558191, true},
		{"used_memory:-5\r\n", 0, false},
		{"used_memory:1.5\r\n", 0, false},
		{"used_memory:99999999999999999999\r\n", 0, false},
		{"used_memory:9000000000000000000\r\n", maxCount, true},
		{"used_memory_human:1.5M\r\n", 0, false},
	}
	for _, tt := range tests {
		got, ok := infoInt([]byte(tt.info), "used_memory")
		if got != tt.want || ok != tt.ok {
			t.Errorf("infoInt(%q) = %d, %v; want %d, %v", tt.info, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseKeyspace(t *testing.T) {
	tests := []struct {
		name  string
		info  string
		limit int
		want  []keyspaceDB
	}{
		{"lab", "# Keyspace\r\ndb0:keys=2000,expires=0,avg_ttl=0\r\ndb1:keys=500,expires=0,avg_ttl=0\r\n", 10,
			[]keyspaceDB{{0, 2000}, {1, 500}}},
		{"empty", "# Keyspace\r\n", 10, nil},
		{"unordered and sparse", "db15:keys=3,expires=1,avg_ttl=9\r\ndb2:keys=7,expires=0,avg_ttl=0\r\n", 10,
			[]keyspaceDB{{2, 7}, {15, 3}}},
		{"7.4 subexpiry field", "db0:keys=4,expires=0,avg_ttl=0,subexpiry=0\r\n", 10, []keyspaceDB{{0, 4}}},
		{"keys not first", "db0:expires=0,keys=9\r\n", 10, []keyspaceDB{{0, 9}}},
		{"repeated db keeps the first", "db0:keys=1\r\ndb0:keys=2\r\n", 10, []keyspaceDB{{0, 1}}},
		{"malformed lines skipped", "db:keys=1\r\ndbx:keys=1\r\ndb01:keys=1\r\ndb1:keys=-1\r\ndb2:keys=a\r\ndb3:nokeys\r\ndb4:keys=5\r\n", 10,
			[]keyspaceDB{{4, 5}}},
		{"huge db number", "db9999999:keys=1\r\n", 10, nil},
		{"huge count clamped", "db0:keys=9223372036854775807\r\n", 10, []keyspaceDB{{0, maxCount}}},
		{"limit", "db0:keys=1\r\ndb1:keys=1\r\ndb2:keys=1\r\n", 2, []keyspaceDB{{0, 1}, {1, 1}}},
		{"LF only", "db3:keys=1\n", 10, []keyspaceDB{{3, 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseKeyspace([]byte(tt.info), tt.limit); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseKeyspace = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestProduct(t *testing.T) {
	tests := []struct {
		info          string
		name, version string
	}{
		{infoServer, "Redis", "7.0.15"},
		{"redis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:8.0.1\r\n", "Valkey", "8.0.1"},
		{"redis_version:6.0.9 <script>\r\n", "Redis", "6.0.9"},
		{"redis_version:" + strings.Repeat("9", 100) + "\r\n", "Redis", strings.Repeat("9", 32)},
		{"# Server\r\n", "Redis", ""},
	}
	for _, tt := range tests {
		name, version := product([]byte(tt.info))
		if name != tt.name || version != tt.version {
			t.Errorf("product(%q) = %q %q, want %q %q", tt.info, name, version, tt.name, tt.version)
		}
	}
}

func TestMajorVersion(t *testing.T) {
	for v, want := range map[string]int{"7.0.15": 7, "5.0.14": 5, "10.1": 10, "": -1, "x": -1, "99999999": 9999} {
		if got := majorVersion(v); got != want {
			t.Errorf("majorVersion(%q) = %d, want %d", v, got, want)
		}
	}
}

func TestUserIsAdmin(t *testing.T) {
	tests := []struct {
		name  string
		rules []string
		want  bool
	}{
		{"7.0 default", []string{"user default on nopass sanitize-payload ~* &* +@all"}, true},
		{"6.0 default", []string{"user default on nopass ~* +@all"}, true},
		{"allcommands", []string{"user default on nopass allkeys allcommands"}, true},
		{"other users listed first", []string{"user alice on #abc ~* +@all", "user default on nopass ~* +@all"}, true},
		{"password set", []string{"user default on #5e88489 ~* +@all"}, false},
		{"off", []string{"user default off nopass ~* +@all"}, false},
		{"dangerous removed", []string{"user default on nopass ~* &* +@all -@dangerous"}, false},
		{"one command removed", []string{"user default on nopass ~* +@all -flushall"}, false},
		{"re-added after removal", []string{"user default on nopass ~* -@all +@all"}, true},
		{"read only", []string{"user default on nopass ~* resetchannels -@all +@read +info"}, false},
		{"selector after root rules", []string{"user default on nopass ~* +@all (~app:* +set)"}, true},
		{"selector only", []string{"user default on nopass -@all (~* +@all)"}, false},
		{"no such user", []string{"user admin on nopass ~* +@all"}, false},
		{"empty", nil, false},
		{"junk", []string{"", "user", "user default"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := userIsAdmin(tt.rules, "default"); got != tt.want {
				t.Errorf("userIsAdmin(%q) = %v, want %v", tt.rules, got, tt.want)
			}
		})
	}
}

func TestKeyPattern(t *testing.T) {
	tests := []struct{ key, want string }{
		{"person:00001", "person:*"},
		{"order:00500", "order:*"},
		{"user:1001:profile", "user:*"},
		{"sess:ab12cd", "sess:*"},
		{"app.v2-cache:x", "app.v2-cache:*"},
		{"13812345678", "*"},
		{"13812345678:orders", "*"},
		{"alice@example.com:cart", "*"},
		{"alice", "*"},
		{":x", "*"},
		{"user2024:x", "*"},
		{"名字:1", "*"},
		{strings.Repeat("a", 65) + ":1", "*"},
		{strings.Repeat("a", 64) + ":1", strings.Repeat("a", 64) + ":*"},
	}
	for _, tt := range tests {
		if got := keyPattern([]byte(tt.key)); got != tt.want {
			t.Errorf("keyPattern(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}

func TestFieldName(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"name", true},
		{"id_number", true},
		{"address2", true},
		{"_id", true},
		{"created-at.utc", true},
		{"13812345678", false},
		{"f1234", false},
		{"a@b.c", false},
		{"two words", false},
		{"", false},
		{"9lives", false},
		{"\xff", false},
	}
	for _, tt := range tests {
		if got, ok := fieldName([]byte(tt.in)); ok != tt.ok || ok && got != tt.in {
			t.Errorf("fieldName(%q) = %q, %v; want ok=%v", tt.in, got, ok, tt.ok)
		}
	}
}

func TestRefused(t *testing.T) {
	tests := []struct {
		msg  string
		want bool
	}{
		{"NOAUTH Authentication required.", true},
		{"WRONGPASS invalid username-password pair or user is disabled.", true},
		{"DENIED Redis is running in protected mode because protected mode is enabled", true},
		{"NOPERM this user has no permissions to run the 'info' command", true},
		{"ERR operation not permitted", true},
		{"ERR Client sent AUTH, but no password is set", true},
		{"ERR unknown command 'INFO'", false},
		{"LOADING Redis is loading the dataset in memory", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := refused(tt.msg); got != tt.want {
			t.Errorf("refused(%q) = %v, want %v", tt.msg, got, tt.want)
		}
	}
}

func TestShare(t *testing.T) {
	tests := []struct{ used, keys, total, want int64 }{
		{1000, 2000, 2500, 800},
		{1000, 500, 2500, 200},
		{1000, 0, 2500, 0},
		{1000, 1, 0, 0},
		{0, 1, 1, 0},
		{math.MaxInt64, math.MaxInt64, math.MaxInt64, math.MaxInt64},
		{math.MaxInt64, 1 << 40, 1 << 41, math.MaxInt64 / 2},
	}
	for _, tt := range tests {
		if got := share(tt.used, tt.keys, tt.total); got != tt.want {
			t.Errorf("share(%d, %d, %d) = %d, want %d", tt.used, tt.keys, tt.total, got, tt.want)
		}
	}
}

func TestScanReply(t *testing.T) {
	bulk := func(s string) resp.Reply { return resp.Reply{Kind: resp.BulkString, Str: []byte(s)} }
	arr := func(e ...resp.Reply) resp.Reply { return resp.Reply{Kind: resp.Array, Elems: e} }
	tests := []struct {
		name    string
		in      resp.Reply
		cursor  string
		elems   []string
		wantErr bool
	}{
		{"keys", arr(bulk("17"), arr(bulk("a:1"), bulk("a:2"))), "17", []string{"a:1", "a:2"}, false},
		{"last page", arr(bulk("0"), arr()), "0", nil, false},
		{"declined", resp.Reply{Kind: resp.Error, Str: []byte("NOPERM")}, "", nil, false},
		{"not an array", bulk("0"), "", nil, true},
		{"bad cursor", arr(bulk("-1"), arr()), "", nil, true},
		{"integer element", arr(bulk("0"), arr(resp.Reply{Kind: resp.Integer})), "", nil, true},
		{"three parts", arr(bulk("0"), arr(), arr()), "", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cursor, elems, err := scanReply(tt.in)
			var got []string
			for _, e := range elems {
				got = append(got, string(e))
			}
			if cursor != tt.cursor || !slices.Equal(got, tt.elems) || (err != nil) != tt.wantErr {
				t.Errorf("scanReply = %q %q %v", cursor, got, err)
			}
		})
	}
}

func TestExcerpt(t *testing.T) {
	s := strings.Repeat("é", 300) // 600 bytes
	got := excerpt([]byte(s), 512)
	if len(got) > 512 || !utf8.ValidString(got) || !strings.HasPrefix(s, got) {
		t.Errorf("excerpt cut badly: %d bytes", len(got))
	}
	if got := detail([]byte(" NOAUTH x \r\n")); got != "NOAUTH x" {
		t.Errorf("detail = %q", got)
	}
}

func FuzzParseInfo(f *testing.F) {
	// Seeds are in testdata/fuzz/FuzzParseInfo.
	f.Fuzz(func(t *testing.T, data []byte) {
		const limit = 8
		dbs := parseKeyspace(data, limit)
		if len(dbs) > limit {
			t.Fatalf("%d databases over the limit", len(dbs))
		}
		for i, d := range dbs {
			if d.DB < 0 || d.Keys < 0 || d.Keys > maxCount || i > 0 && dbs[i-1].DB >= d.DB {
				t.Fatalf("bad keyspace %v", dbs)
			}
		}
		name, version := product(data)
		if name == "" || len(version) > 32 || strings.ContainsAny(version, " \r\n:") {
			t.Fatalf("product %q %q", name, version)
		}
		if n, ok := infoInt(data, "used_memory"); n < 0 || n > maxCount || !ok && n != 0 {
			t.Fatalf("used_memory %d", n)
		}
	})
}

func FuzzUserIsAdmin(f *testing.F) {
	// Seeds are in testdata/fuzz/FuzzUserIsAdmin.
	f.Fuzz(func(t *testing.T, line string) {
		got := userIsAdmin([]string{line}, "default")
		f := strings.Fields(line)
		if got && !(slices.Contains(f, "nopass") && slices.Contains(f, "on")) {
			t.Fatalf("admin without on and nopass: %q", line)
		}
	})
}

func FuzzKeyPattern(f *testing.F) {
	// Seeds are in testdata/fuzz/FuzzKeyPattern.
	f.Fuzz(func(t *testing.T, key []byte) {
		p := keyPattern(key)
		if p == "*" {
			return
		}
		prefix, ok := strings.CutSuffix(p, ":*")
		if !ok || !isName([]byte(prefix)) || !strings.HasPrefix(string(key), prefix+":") {
			t.Fatalf("keyPattern(%q) = %q", key, p)
		}
	})
}
