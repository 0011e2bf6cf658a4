//go:build !unix

package serve

import (
	"os"
	"path/filepath"
)

func openLockFile(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	return os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
}

// tryFlock: no flock here. Every serve holds the lock; the state file's own
// lock still keeps two runs of one spec apart (the second waits and retries).
func tryFlock(*os.File) (bool, error) { return true, nil }
