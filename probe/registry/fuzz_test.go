package registry

import (
	"strings"
	"testing"
)

// FuzzNextPage: whatever the Link header says, the page followed is a path
// of the same endpoint, never another host.
func FuzzNextPage(f *testing.F) {
	f.Add(`</v2/_catalog?last=b&n=100>; rel="next"`)
	f.Fuzz(func(t *testing.T, link string) {
		next := nextPage(link, "/v2/_catalog")
		if next != "" && !strings.HasPrefix(next, "/v2/_catalog?") {
			t.Fatalf("nextPage(%q) = %q", link, next)
		}
	})
}
