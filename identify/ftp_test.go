package identify

import (
	"testing"

	"github.com/ajar-scan/ajar/lab"
)

// TestLabFTP identifies vsFTPd from its greeting, on the open server and
// on the one that refuses anonymous logins.
func TestLabFTP(t *testing.T) {
	v := func(s string) bool { return s == "3.0.3" }
	identifyLab(t, lab.FTPOpen, "ftp", "vsFTPd", v)
	identifyLab(t, lab.FTPSecured, "ftp", "vsFTPd", v)
}

func TestMatchFTP(t *testing.T) {
	for _, tc := range []struct {
		in                      string
		proto, product, version string
	}{
		{"220 (vsFTPd 3.0.3)\r\n", "ftp", "vsFTPd", "3.0.3"},
		{"220-Welcome\r\n220 ProFTPD 1.3.8 Server ready.\r\n", "ftp", "ProFTPD", "1.3.8"},
		{"220 Microsoft FTP Service\r\n", "ftp", "", ""},
		{"220 mail.example ESMTP Postfix\r\n", "smtp", "", ""},
		{"221 Goodbye\r\n", "", "", ""},
	} {
		s, ok := match220([]byte(tc.in))
		if ok != (tc.proto != "") || s.Protocol != tc.proto || s.Product != tc.product || s.Version != tc.version {
			t.Errorf("match220(%q) = %+v, %v; want %s %s %s", tc.in, s, ok, tc.proto, tc.product, tc.version)
		}
	}
}
