package attribution

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		file, format string
		want         []string // prefix provider region service source, for each range
	}{
		{"ip-ranges.json", "", []string{
			"3.5.140.0/22 aws ap-northeast-2 AMAZON aws-ip-ranges", "3.5.140.0/22 aws ap-northeast-2 EC2 aws-ip-ranges",
			"52.80.0.0/16 aws cn-north-1 AMAZON aws-ip-ranges", "2400:6500:0:7000::/56 aws ap-southeast-1 EC2 aws-ip-ranges"}},
		{"cloud.json", "google", []string{
			"34.80.0.0/15 google asia-east1 Google Cloud google-cloud", "2600:1900:4030::/44 google asia-east1 Google Cloud google-cloud"}},
		{"ServiceTags_Public.json", "", []string{
			"13.64.0.0/16 azure   azure-service-tags", "20.36.106.68/31 azure australiacentral AzureApiManagement azure-service-tags"}},
		{"ranges.csv", "", []string{
			"47.88.0.0/14 alibaba us-west-1  csv:ranges.csv", "127.0.10.0/26 tencent ap-guangzhou  csv:ranges.csv"}},
	} {
		f, err := os.Open(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		rs, err := Parse(f, tc.format, tc.file)
		f.Close()
		if err != nil {
			t.Errorf("%s: %v", tc.file, err)
			continue
		}
		var got []string
		for _, r := range rs {
			got = append(got, r.Prefix.String()+" "+r.Provider+" "+r.Region+" "+r.Service+" "+r.Source)
		}
		slices.Sort(got)
		slices.Sort(tc.want)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q\nwant %q", tc.file, got, tc.want)
		}
	}
	for _, bad := range []string{`{"syncToken":"1","createDate":"x","prefixes":[{"ip_prefix":"3.5.140.0/33"}]}`, "", "10.0.0.0/8", "not a cidr,x,y"} {
		if _, err := Parse(bytes.NewReader([]byte(bad)), "", "x.csv"); err == nil {
			t.Errorf("Parse(%q): no error", bad)
		}
	}
	if _, err := Parse(bytes.NewReader(nil), "gcp", "x"); err == nil {
		t.Error("unknown format accepted")
	}
}

func TestFileAndTable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ajar.db.ranges")
	aws, _ := Parse(mustOpen(t, "ip-ranges.json"), "aws", "ip-ranges.json")
	csv, _ := Parse(mustOpen(t, "ranges.csv"), "csv", "ranges.csv")
	if err := WriteFile(path, Merge(nil, append(aws, csv...))); err != nil {
		t.Fatal(err)
	}
	// A newer AWS file replaces the old one and leaves the CSV alone.
	newer := []Range{{Prefix: netip.MustParsePrefix("3.5.0.0/16"), Provider: "aws", Source: "aws-ip-ranges"}}
	old, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(old) != len(aws)+len(csv) {
		t.Fatalf("read back %d ranges, want %d", len(old), len(aws)+len(csv))
	}
	merged := Merge(old, newer)
	if err := WriteFile(path, merged); err != nil {
		t.Fatal(err)
	}
	back, err := ReadFile(path)
	if err != nil || !slices.Equal(back, merged) || len(back) != 1+len(csv) {
		t.Fatalf("round trip: %v %v", back, err)
	}
	if rs, err := ReadFile(filepath.Join(t.TempDir(), "none")); err != nil || rs != nil {
		t.Errorf("missing file: %v %v", rs, err)
	}

	tab := NewTable(append(aws, csv...))
	for _, tc := range []struct{ addr, want string }{
		{"3.5.141.7", "aws EC2"}, // the specific service of the same prefix
		{"52.80.1.1", "aws AMAZON"},
		{"2400:6500:0:7000::1", "aws EC2"},
		{"127.0.10.5", "tencent "},
		{"127.0.10.200", ""},
		{"::ffff:127.0.10.5", "tencent "},
	} {
		r, ok := tab.Lookup(netip.MustParseAddr(tc.addr))
		got := ""
		if ok {
			got = r.Provider + " " + r.Service
		}
		if got != tc.want {
			t.Errorf("Lookup(%s) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

func mustOpen(t *testing.T, name string) *os.File {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestMatchName(t *testing.T) {
	for name, want := range map[string]string{
		"es-cn-abc123.elasticsearch.aliyuncs.com":           "alibaba managed",
		"*.kibana.elasticsearch.aliyuncs.com":               "alibaba managed",
		"rm-bp1abc.mysql.rds.aliyuncs.com.":                 "alibaba managed",
		"oss-cn-hangzhou.aliyuncs.com":                      "alibaba host",
		"ec2-52-80-1-1.cn-north-1.compute.amazonaws.com.cn": "aws compute",
		"ec2-3-5-141-7.compute-1.amazonaws.com":             "aws compute",
		"db.abc.us-east-1.rds.amazonaws.com":                "aws managed",
		"search-x-abc.us-east-1.es.amazonaws.com":           "aws managed",
		"sh-cdb-abc.sql.tencentcdb.com":                     "tencent managed",
		"bj.bcebos.com":                                     "baidu managed",
		"1.2.3.4.bc.googleusercontent.com":                  "google compute",
		"myvm.eastus.cloudapp.azure.com":                    "azure compute",
		"static.1.2.3.4.clients.your-server.de":             "hetzner compute",
		"vps-1234.vps.ovh.net":                              "ovh compute",
		"li123-45.members.linode.com":                       "linode compute",
		"notaliyuncs.com":                                   "",
		"example.com":                                       "",
	} {
		s, ok := matchName(name)
		got := ""
		if ok {
			got = s.provider + " " + [...]string{"host", "managed", "compute"}[s.kind]
		}
		if got != want {
			t.Errorf("matchName(%q) = %q, want %q", name, got, want)
		}
	}
}

// FuzzParse: range files come from the internet; no input may panic.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"ip-ranges.json", "cloud.json", "ServiceTags_Public.json", "ranges.csv"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := Parse(bytes.NewReader(b), "", "fuzz.csv")
		if err == nil && len(rs) == 0 {
			t.Fatal("no error and no ranges")
		}
		for _, r := range rs {
			if !r.Prefix.IsValid() || r.Prefix != r.Prefix.Masked() {
				t.Fatalf("prefix %v", r.Prefix)
			}
		}
	})
}
