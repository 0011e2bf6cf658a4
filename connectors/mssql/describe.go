package mssql

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/hashicorp/hcl/v2"
)

var _ connector.SourceDescriber = Describe

// Describe is the connector.SourceDescriber of driver "mssql": the mapping a
// source block resolves to (settings, tables, the SQL of every canonical
// column in T-SQL) with where each came from, for `applink plan`. It
// connects to nothing, so the interaction sets and storage-center tables
// show as patterns.
func Describe(src dsl.Source) (*connector.SourceMapping, error) {
	m, err := newMapping(TSQL, src)
	if err != nil {
		return nil, err
	}
	out := &connector.SourceMapping{}
	cat := tables[tCatalog]
	if m.needsCatalog() {
		out.Notes = append(out.Notes, fmt.Sprintf("calls: one SELECT per interaction set listed in %s whose dtMaxStartTime reaches the window (and the newest set), UNION ALL, in keyset pages on (start_time, call_id)",
			m.plainTable(cat, cat.name)))
	}
	if _, overridden := m.overrides[QueryCalls]; !overridden {
		out.Notes = append(out.Notes, fmt.Sprintf("recording of a call: its first row (by dtRecordingGMTStartTime, archived first) in every %s.%s.tblStorageCenterNN that exists; its file: the unit's root joined with vcArchivePath, mapped by media { path_map }",
			m.dbs[dbStorage].value, m.schema.value))
	}
	if src.Media != nil {
		for _, p := range src.Media.PathMaps {
			out.Notes = append(out.Notes, fmt.Sprintf("media path_map: %s -> %s", p.From, p.To))
		}
	} else {
		out.Notes = append(out.Notes, "media: no path_map: only absolute local media paths can be read (add media { path_map { from to } })")
	}

	for _, role := range []dbRole{dbInteractions, dbStorage, dbAdmin} {
		s := m.dbs[role]
		out.Settings = append(out.Settings, connector.MappingItem{Name: dbSettingNames[role], Value: s.value, Origin: origin(s.spec, "default, "+statusPublic)})
	}
	out.Settings = append(out.Settings, connector.MappingItem{Name: "schema", Value: m.schema.value, Origin: origin(m.schema.spec, "default, "+statusPublic)})

	for _, t := range []struct{ aliases, key, name string }{
		{"catalog", tCatalog, ""}, {"i", tInteraction, ""}, {"ag, ini", tParticipant, ""},
		{"r", tStorage, "tblStorageCenter01 … tblStorageCenter99"}, {"r (unit)", tUnit, ""},
		{"ex, na", tException, ""}, {"u", tUser, ""}, {"a", tAgent, ""}, {"b", tBD, ""},
	} {
		td := tables[t.key]
		name := t.name
		if name == "" {
			name = strings.ReplaceAll(td.name, setToken, "<N>")
		}
		st := statusAssumed
		if td.public {
			st = statusPublic
		}
		out.Tables = append(out.Tables, connector.MappingItem{Name: t.aliases, Value: m.plainTable(td, name), Origin: st + ": " + td.role})
	}

	for _, q := range []string{QueryCalls, QueryAgents, QueryBusinessData} {
		if _, overridden := m.overrides[q]; overridden {
			out.Columns = append(out.Columns, connector.MappingItem{Name: q + ".*", Value: "queries." + q + " (the spec's whole query)", Origin: "spec"})
			continue
		}
		for _, c := range m.columns[q] {
			item := connector.MappingItem{Name: q + "." + c.name, Value: c.sql}
			if c.spec != nil {
				item.Origin = origin(c.spec, "")
			} else {
				item.Origin = "default, " + columnStatus(m, q, c.name)
				if c.note != "" {
					item.Origin += "; " + c.note
				}
			}
			out.Columns = append(out.Columns, item)
		}
	}
	return out, nil
}

// columnStatus is "public", or "ASSUMED" with the assumed names a
// default column's SQL (and its joins) reads.
func columnStatus(m *mapping, query, col string) string {
	var assumed []string
	seen := map[string]bool{}
	for _, u := range m.uses(query, []string{col}) {
		t := tables[u.table]
		if !t.public && !seen[t.name] {
			seen[t.name] = true
			assumed = append(assumed, "table "+t.name)
		}
		if name := strings.ReplaceAll(t.name, setToken, "<N>") + "." + u.column; !t.cols[u.column] && !seen[name] {
			seen[name] = true
			assumed = append(assumed, "column "+name)
		}
	}
	if len(assumed) == 0 {
		return statusPublic
	}
	return statusAssumed + " (" + strings.Join(assumed, ", ") + ")"
}

// origin is "spec FILE:LINE,COL" when the spec set it, def otherwise.
func origin(r *hcl.Range, def string) string {
	if r == nil {
		return def
	}
	return fmt.Sprintf("spec %s:%d,%d", filepath.ToSlash(r.Filename), r.Start.Line, r.Start.Column)
}
