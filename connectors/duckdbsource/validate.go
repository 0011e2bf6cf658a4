package duckdbsource

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"time"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/hashicorp/hcl/v2"
)

var _ connector.SourceValidator = Validate // cmd wires it into engine.Registry.Validators

// validateTimeout bounds opening the file and listing its tables.
const validateTimeout = 10 * time.Second

// Validate checks at validate time what Open checks: the file exists, is a
// DuckDB database, and holds the three tables with their columns. It opens
// the file read-only and creates nothing. Problems are reported at the
// source's `path =` value.
func Validate(src dsl.Source) hcl.Diagnostics {
	if src.Path == "" {
		return nil // no path: the spec's own error
	}
	fi, err := os.Stat(src.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return connector.PathError(src, "DuckDB file not found",
			"The DuckDB file %s does not exist. path is relative to the spec folder: correct it, or make the file with tables agents, calls and business_data.", src.Path)
	case err != nil:
		return connector.PathError(src, "Cannot read the DuckDB file", "Reading %s failed: %v.", src.Path, err)
	case fi.IsDir():
		return connector.PathError(src, "Not a DuckDB file",
			"%s is a folder: a duckdb source reads one DuckDB file. For a folder of CSV files, set driver = \"snapshot\".", src.Path)
	}
	ctx, cancel := context.WithTimeout(context.Background(), validateTimeout)
	defer cancel()
	s, err := OpenFile(ctx, src.Path, src.Path)
	if err != nil {
		return connector.PathError(src, "Unusable DuckDB file", "%v.", err)
	}
	_ = s.Close()
	return nil
}
