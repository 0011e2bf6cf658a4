package mssql

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/applink-dev/applink/connectors/sqlrow"
)

// interactionSet is one row of the interaction catalog
// (tblInteractionCatalog): set N's interactions are in tblInteraction<N>.
type interactionSet struct {
	number   string    // decimal digits: it is spliced into table names
	min, max time.Time // dtMinStartTime, dtMaxStartTime; zero when NULL
}

func (s interactionSet) String() string {
	span := func(t time.Time) string {
		if t.IsZero() {
			return "open"
		}
		return t.UTC().Format("2006-01-02 15:04")
	}
	return fmt.Sprintf("set %s (%s … %s)", s.number, span(s.min), span(s.max))
}

// catalog is what a run reads of the Engage layout before its calls: the
// interaction sets and the storage-center tables.
type catalog struct {
	sets    []interactionSet // by number
	storage []string         // tblStorageCenterNN names, sorted
}

// inWindow lists the sets whose calls may have started at or after from:
// those whose dtMaxStartTime is not before it, or NULL, and the newest set
// whatever its dtMaxStartTime says (the set being filled may not have its
// maximum updated yet).
func (c *catalog) inWindow(from time.Time) []interactionSet {
	var out []interactionSet
	for i, s := range c.sets {
		if from.IsZero() || s.max.IsZero() || !s.max.Before(from) || i == len(c.sets)-1 {
			out = append(out, s)
		}
	}
	return out
}

func numbers(sets []interactionSet) []string {
	out := make([]string, len(sets))
	for i, s := range sets {
		out[i] = s.number
	}
	return out
}

// needsCatalog reports whether the calls query reads per interaction set.
func (m *mapping) needsCatalog() bool {
	o, overridden := m.overrides[QueryCalls]
	return !overridden || strings.Contains(o, setToken)
}

// readCatalog reads the interaction sets and lists the storage-center
// tables (only what the mapping needs).
func (m *mapping) readCatalog(ctx context.Context, db *sql.DB) (*catalog, error) {
	c := &catalog{}
	if !m.needsCatalog() {
		return c, nil
	}
	q := m.catalogQuery()
	rows, err := db.QueryContext(ctx, q.SQL, q.Args...)
	if err != nil {
		return nil, fmt.Errorf("reading the interaction catalog %s: %w", m.plainTable(tables[tCatalog], tables[tCatalog].name), err)
	}
	defer rows.Close()
	vals, ptrs := sqlrow.ScanTargets(3)
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		num, err := sqlrow.String(vals[0])
		num = strings.TrimSpace(num)
		if err != nil || num == "" || strings.Trim(num, "0123456789") != "" {
			// The number becomes part of a table name: only digits.
			return nil, &permanentError{fmt.Errorf("the interaction catalog lists set %q, which is not a number", num)}
		}
		s := interactionSet{number: num}
		var e1, e2 error
		s.min, e1 = sqlrow.Time(vals[1])
		s.max, e2 = sqlrow.Time(vals[2])
		if e1 != nil || e2 != nil {
			return nil, &permanentError{fmt.Errorf("the interaction catalog's set %s: unreadable start times (%v, %v)", num, e1, e2)}
		}
		c.sets = append(c.sets, s)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(c.sets, func(a, b interactionSet) int {
		x, _ := strconv.ParseUint(a.number, 10, 64)
		y, _ := strconv.ParseUint(b.number, 10, 64)
		return cmp.Compare(x, y)
	})
	if _, overridden := m.overrides[QueryCalls]; overridden || !m.usedAliases(QueryCalls, nil)["r"] {
		return c, nil
	}
	c.storage, err = m.storageTables(ctx, db)
	return c, err
}

// storageTables lists the storage-center tables of the storage database.
func (m *mapping) storageTables(ctx context.Context, db *sql.DB) ([]string, error) {
	q := tablesQuery(m.d, m.dbs[dbStorage].value, m.schema.value, "tblStorageCenter")
	rows, err := db.QueryContext(ctx, q.SQL, q.Args...)
	if err != nil {
		return nil, fmt.Errorf("listing the storage-center tables of %s.%s: %w", m.dbs[dbStorage].value, m.schema.value, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		if storageTable.MatchString(name) {
			out = append(out, name)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	return out, rows.Err()
}
