package dsl

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2/hclwrite"
)

// Format returns src in canonical HCL layout (hclwrite.Format): it only
// changes whitespace, so it is safe on files with syntax errors.
func Format(src []byte) []byte {
	return hclwrite.Format(src)
}

// FormatDir formats every *.hcl file of dir in memory and returns, by file
// name, the old and new contents of those whose canonical form differs. It
// writes nothing: the caller decides between showing a diff and writing.
func FormatDir(dir string) (map[string][2][]byte, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("format %s: %w", dir, err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".hcl") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	changed := map[string][2][]byte{}
	for _, name := range names {
		old, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("format: %w", err)
		}
		if neu := Format(old); !bytes.Equal(old, neu) {
			changed[name] = [2][]byte{old, neu}
		}
	}
	return changed, nil
}
