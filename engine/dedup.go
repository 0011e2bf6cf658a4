package engine

import (
	"github.com/applink-dev/applink/engine/keyset"
	"github.com/zeebo/xxh3"
)

// siteDedup finds the calls of a multi-site spec already read at an earlier
// site, so a call is imported from the first source in spec order, in flat
// memory: the evaluator takes the sites one after the other, so the call-id
// hashes of each finished site are a keyset (on disk past a few thousand)
// and the current site's are collected into a builder that becomes one
// when the evaluator moves on.
type siteDedup struct {
	cur    int
	b      *keyset.Builder
	done   []*keyset.Set
	limits keyset.Limits // zero: keyset's defaults (tests lower them)
}

// seen reports whether the call id was read at an earlier site than src.
func (d *siteDedup) seen(src int, id string) (bool, error) {
	if d.b == nil || src != d.cur {
		if d.b != nil {
			set, err := d.b.Finish()
			d.b = nil
			if err != nil {
				return false, err
			}
			d.done = append(d.done, set)
		}
		d.cur, d.b = src, keyset.NewBuilder(0, d.limits)
	}
	h := xxh3.HashString(id)
	for _, s := range d.done {
		if _, _, ok := s.Find(h); ok {
			return true, nil
		}
	}
	d.b.Add(h, 0)
	return false, nil
}
