package engine

import (
	"fmt"
	"testing"

	"github.com/applink-dev/applink/engine/keyset"
)

// A call is a duplicate when an earlier site had it, whether the earlier
// sites' ids are in memory or spilled to disk; a site with no calls and a
// call listed twice at one site change nothing.
func TestSiteDedup(t *testing.T) {
	for _, lim := range []keyset.Limits{{}, {Mem: 10, Group: 8}} {
		t.Run(fmt.Sprintf("mem %d", lim.Mem), func(t *testing.T) {
			d := &siteDedup{limits: lim}
			id := func(i int) string { return fmt.Sprintf("C%05d", i) }
			check := func(src, i int, want bool) {
				t.Helper()
				got, err := d.seen(src, id(i))
				if err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Fatalf("site %d, call %d: duplicate %v, want %v", src, i, got, want)
				}
			}
			for i := range 500 { // site 0: calls 0..499
				check(0, i, false)
			}
			check(0, 7, false)           // listed twice at one site: not a duplicate of another site
			for i := 400; i < 900; i++ { // site 2 (site 1 read nothing): 400..499 seen at site 0
				check(2, i, i < 500)
			}
			for i := 0; i < 1000; i += 3 { // site 3: everything below 900 was seen
				check(3, i, i < 900)
			}
		})
	}
}
