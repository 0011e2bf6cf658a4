package mssql

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/applink-dev/applink/dsl"
)

// pathMapper turns a recorded media path (a UNC path such as
// \\nas01\NICE\Archive\2026\11\02\123.nmf: a unit root joined with
// vcArchivePath) into a local file, through the spec's media { path_map }.
type pathMapper struct {
	label string
	maps  []pathPrefix // longest first
}

type pathPrefix struct {
	unc  bool
	segs []string // lowercased: Windows paths compare case-insensitively
	to   string
	from string // as written, for messages
}

// splitPath splits a Windows or POSIX path into its segments, dropping
// empty and "." ones; unc reports a leading \\ (or //).
func splitPath(p string) (segs []string, unc bool) {
	p = strings.ReplaceAll(p, "/", `\`)
	unc = strings.HasPrefix(p, `\\`)
	for _, s := range strings.Split(p, `\`) {
		if s != "" && s != "." {
			segs = append(segs, s)
		}
	}
	return segs, unc
}

func newPathMapper(label string, m *dsl.Media) *pathMapper {
	pm := &pathMapper{label: label}
	if m == nil {
		return pm
	}
	for _, x := range m.PathMaps {
		segs, unc := splitPath(x.From)
		for i := range segs {
			segs[i] = strings.ToLower(segs[i])
		}
		pm.maps = append(pm.maps, pathPrefix{unc: unc, segs: segs, to: x.To, from: x.From})
	}
	slices.SortStableFunc(pm.maps, func(a, b pathPrefix) int { return len(b.segs) - len(a.segs) })
	return pm
}

// local maps a recorded media path to a local path: the longest path_map
// prefix (whole segments, case-insensitive) wins. A path no prefix matches
// is used as it is only when it is already an absolute local path.
func (pm *pathMapper) local(mediaPath string) (string, error) {
	if strings.TrimSpace(mediaPath) == "" {
		return "", errors.New("the call has no media path")
	}
	segs, unc := splitPath(mediaPath)
	for _, m := range pm.maps {
		if m.unc != unc || len(segs) < len(m.segs) {
			continue
		}
		match := true
		for i, s := range m.segs {
			if strings.ToLower(segs[i]) != s {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		rest := segs[len(m.segs):]
		if slices.Contains(rest, "..") {
			return "", fmt.Errorf("media path %s climbs out of %s", mediaPath, m.from)
		}
		return filepath.Join(append([]string{m.to}, rest...)...), nil
	}
	if !unc && filepath.IsAbs(mediaPath) {
		return mediaPath, nil
	}
	return "", fmt.Errorf("no media path_map of %s matches %s: add media { path_map { from = \"<its prefix>\" to = \"<where it is mounted>\" } }", pm.label, mediaPath)
}

// open checks that the media file of a recorded path can be read: it
// exists, is a regular file, is not empty and opens.
func (pm *pathMapper) open(mediaPath string) (string, error) {
	p, err := pm.local(mediaPath)
	if err != nil {
		return "", err
	}
	f, err := os.Open(p)
	if err != nil {
		return "", fmt.Errorf("media %s: %w", mediaPath, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	switch {
	case err != nil:
		return "", fmt.Errorf("media %s: %w", mediaPath, err)
	case !fi.Mode().IsRegular():
		return "", fmt.Errorf("media %s: %s is not a file", mediaPath, p)
	case fi.Size() == 0:
		return "", fmt.Errorf("media %s: %s is empty", mediaPath, p)
	}
	var one [1]byte
	if _, err := f.Read(one[:]); err != nil {
		return "", fmt.Errorf("media %s: reading %s: %w", mediaPath, p, err)
	}
	return p, nil
}

// LocateMedia implements connector.MediaLocator: the local file of a call's
// media_path, or why it cannot be read (the engine then fails the call
// with media_unreadable; the next run tries again).
func (s *Source) LocateMedia(ctx context.Context, mediaPath string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	return s.media.open(mediaPath)
}
