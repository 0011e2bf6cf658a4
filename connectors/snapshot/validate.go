package snapshot

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
	"github.com/hashicorp/hcl/v2"
)

var _ connector.SourceValidator = Validate // cmd wires it into engine.Registry.Validators

// Validate checks at validate time what Open and the readers need: the
// folder exists and holds the three files, each with the snapshot's header.
// It reads one line of each file and creates nothing. Problems are reported
// at the source's `path =` value.
func Validate(src dsl.Source) hcl.Diagnostics {
	if src.Path == "" {
		return nil // no path: the spec's own error
	}
	fi, err := os.Stat(src.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return connector.PathError(src, "Snapshot folder not found",
			"The snapshot folder %s does not exist. path is relative to the spec folder: correct it, or create the folder with %s.", src.Path, fileList())
	case err != nil:
		return connector.PathError(src, "Cannot read the snapshot folder", "Reading %s failed: %v.", src.Path, err)
	case !fi.IsDir():
		return connector.PathError(src, "Not a snapshot folder",
			"%s is a file: a snapshot source reads a folder holding %s. For a DuckDB file, set driver = \"duckdb\".", src.Path, fileList())
	}
	var missing []string
	var diags hcl.Diagnostics
	s := New(src.Path)
	for _, f := range []struct {
		name   string
		header []string
	}{{AgentsFile, agentsHeader}, {CallsFile, callsHeader}, {BDFile, bdHeader}} {
		if _, err := os.Stat(filepath.Join(src.Path, f.name)); errors.Is(err, fs.ErrNotExist) {
			missing = append(missing, f.name)
			continue
		}
		file, _, err := s.openCSV(f.name, f.header)
		if err != nil {
			diags = append(diags, connector.PathError(src, "Unreadable snapshot file", "In the snapshot folder %s, %s.", src.Path, strings.TrimPrefix(err.Error(), "snapshot: "))...)
			continue
		}
		file.Close()
	}
	if len(missing) > 0 {
		diags = append(connector.PathError(src, "Snapshot files missing",
			"The snapshot folder %s has no %s: a snapshot holds %s, each with its header row (even when it has no other rows).",
			src.Path, strings.Join(missing, ", "), fileList()), diags...)
	}
	return diags
}

func fileList() string { return AgentsFile + ", " + CallsFile + " and " + BDFile }
