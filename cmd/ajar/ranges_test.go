package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRanges(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "ajar.db")
	aws := filepath.Join(dir, "ip-ranges.json")
	csv := filepath.Join(dir, "mine.csv")
	if err := os.WriteFile(aws, []byte(`{"syncToken":"1","createDate":"2026-11-25-10-00-00","prefixes":[
		{"ip_prefix":"3.5.140.0/22","region":"ap-northeast-2","service":"EC2","network_border_group":"ap-northeast-2"}],
		"ipv6_prefixes":[{"ipv6_prefix":"2400:6500:0:7000::/56","region":"ap-southeast-1","service":"EC2"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(csv, []byte("cidr,provider,region\n127.0.10.0/26,tencent,ap-guangzhou\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := ajarRun(t, "", "ranges", "list", "--db", db); code != 0 {
		t.Fatalf("list with nothing imported: %d %s", code, errs)
	}
	if code, _, errs := ajarRun(t, "", "ranges", "import", aws, "--db", db); code != 0 || !strings.Contains(errs, "imported 2 ranges of aws-ip-ranges") {
		t.Fatalf("import aws: %d %s", code, errs)
	}
	if code, _, errs := ajarRun(t, "", "ranges", "import", csv, "--format", "csv", "--db", db); code != 0 {
		t.Fatalf("import csv: %d %s", code, errs)
	}
	code, out, _ := ajarRun(t, "", "ranges", "list", "--db", db)
	want := "SOURCE         PROVIDER  PREFIXES  IPV6\naws-ip-ranges  aws       2         1\ncsv:mine.csv   tencent   1         0\n"
	if code != 0 || out != want {
		t.Errorf("list: %d\n%s\nwant\n%s", code, out, want)
	}
	if _, err := os.Stat(db + ".ranges"); err != nil {
		t.Errorf("the ranges file is not beside the store: %v", err)
	}
	code, out, _ = ajarRun(t, "", "ranges", "list", "--json", "--db", db)
	if code != 0 || !strings.Contains(out, `{"source":"csv:mine.csv","provider":"tencent","prefixes":1,"ipv6_prefixes":0}`) {
		t.Errorf("list --json: %d %s", code, out)
	}
	for _, args := range [][]string{
		{"ranges", "import", aws, "--format", "gcp"},
		{"ranges", "import", filepath.Join(dir, "missing.json")},
		{"ranges", "import", db + "-not-ranges"},
		{"scan", "127.0.10.10", "-p", "1", "--mmdb", filepath.Join(dir, "missing.mmdb")},
	} {
		if code, _, errs := ajarRun(t, "", append(args, "--db", db)...); code != exitUsage {
			t.Errorf("%v: exit %d (%s), want %d", args, code, errs, exitUsage)
		}
	}
}
