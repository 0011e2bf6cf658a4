package dsl

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// validate runs the checks that span blocks, after every block is decoded.
func (d *decoder) validate() {
	s := d.spec
	top := hcl.Range{Filename: d.first, Start: hcl.InitialPos, End: hcl.InitialPos}
	if d.seen["spec"] == nil {
		d.errorf(top, top, "Missing spec block",
			"A spec folder needs exactly one spec block naming the customer, the CXone tenant and installed_at, for example:\n\nspec {\n  customer     = \"acme\"\n  cxone_tenant = \"acme-eu1\"\n  installed_at = \"2026-11-01T00:00:00Z\"\n}")
	}
	if len(s.Sources) == 0 {
		d.errorf(top, top, "Missing source block",
			"A spec needs at least one source \"engage\" NAME block saying where the Engage data is read from.")
	}

	// Backfill window.
	if b := d.times.backfill; b != nil && !s.BackfillRequestedAt.IsZero() && !s.InstalledAt.IsZero() &&
		s.BackfillRequestedAt.Before(s.InstalledAt) {
		d.errorf(b.Expr.Range(), b.Range, "Backfill requested before installation",
			"backfill_requested_at (%s) is before installed_at (%s, at %s). A backfill is requested after installation; correct one of the two timestamps.",
			s.BackfillRequestedAt.Format("2006-01-02T15:04:05Z07:00"), s.InstalledAt.Format("2006-01-02T15:04:05Z07:00"), rangeStart(d.times.installed.Expr.Range()))
	}
	if a := d.bfDays; a != nil && d.times.backfill == nil {
		r := a.Expr.Range()
		d.add(hcl.DiagWarning, "Unused backfill_days",
			"backfill_days only narrows a backfill, and this spec requests none: it has no effect. Set backfill_requested_at or remove backfill_days.",
			&r, a.Range.Ptr())
	}

	// One Engage system per spec: the sources are its sites.
	if len(d.srcDecl) > 1 {
		first := d.srcDecl[0]
		for i, sd := range d.srcDecl[1:] {
			if sd.systemID == nil || first.systemID == nil {
				continue
			}
			a, b := s.Sources[0].SystemID, s.Sources[i+1].SystemID
			if a != "" && b != "" && a != b {
				d.errorf(sd.systemID.Expr.Range(), sd.systemID.Range, "Different Engage systems",
					"This source's system_id is %q but source %q (at %s) has %q. The sources of one spec are sites of one Engage system; write a separate spec folder for each system.",
					b, s.Sources[0].Name, rangeStart(first.systemID.Range), a)
			}
		}
	}

	// Business-data fields: unique names, the seed's limits per type.
	byName := map[string]int{}
	count := map[string]int{}
	for i, f := range s.Fields {
		b := d.fldDecl[i]
		key := strings.ToLower(f.Name) // CXone compares field names case-insensitively
		if j, dup := byName[key]; dup && f.Name != "" {
			d.errorf(b.LabelRanges[1], b.DefRange, "Duplicate field name",
				"A field named %q is already declared at %s. Each business-data field is declared once; rename or remove one of them.",
				s.Fields[j].Name, rangeStart(d.fldDecl[j].DefRange))
		} else {
			byName[key] = i
		}
		limit, known := FieldLimits[f.Type]
		if !known {
			continue
		}
		count[f.Type]++
		if count[f.Type] == limit+1 {
			total := 0
			for _, g := range s.Fields {
				if g.Type == f.Type {
					total++
				}
			}
			d.errorf(b.DefRange, blockRange(b), "Too many "+f.Type+" fields",
				"CXone takes at most %d %s fields and this spec declares %d; this is the first one over the limit. Remove %d %s field(s) or change their type.",
				limit, f.Type, total, total-limit, f.Type)
		}
	}
}

// DidYouMean is didYouMean for the engine's findings on data (a bd name no
// row carries): " Did you mean "X"?" or "".
func DidYouMean(name string, candidates []string) string { return didYouMean(name, candidates) }

// Suggest is the candidate closest to name when it is a likely typo of it,
// else "".
func Suggest(name string, candidates []string) string { return suggest(name, candidates) }

// didYouMean returns " Did you mean \"X\"?" for the candidate closest to
// name, or "" when none is close enough to be a likely typo.
func didYouMean(name string, candidates []string) string {
	if s := suggest(name, candidates); s != "" {
		return fmt.Sprintf(" Did you mean %q?", s)
	}
	return ""
}
