package mssql

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/applink-dev/applink/dsl"
	"github.com/applink-dev/applink/engine/connector"
)

func TestPathMap(t *testing.T) {
	pm := newPathMapper("source dc1", &dsl.Media{PathMaps: []dsl.PathMap{
		{From: `\\nas01\NICE`, To: "/mnt/nice"},
		{From: `\\nas01\NICE\Archive2`, To: "/mnt/archive2"},
		{From: `//NAS02/rec/`, To: "/mnt/rec"},
		{From: `D:\Recordings`, To: "/mnt/d"},
	}})
	tests := []struct{ in, want, err string }{
		{in: `\\nas01\NICE\Archive\2026\11\02\1.nmf`, want: "/mnt/nice/Archive/2026/11/02/1.nmf"},
		{in: `\\NAS01\nice\\Archive\.\1.nmf`, want: "/mnt/nice/Archive/1.nmf"},  // case, doubled and dot segments
		{in: `\\nas01\NICE\Archive2\1.nmf`, want: "/mnt/archive2/1.nmf"},        // the longest prefix wins
		{in: `\\nas01\NICE\Archive22\1.nmf`, want: "/mnt/nice/Archive22/1.nmf"}, // whole segments only
		{in: `//nas02/rec/media/x.wav`, want: "/mnt/rec/media/x.wav"},           // either slash
		{in: `\\nas02\REC\\media\x.wav`, want: "/mnt/rec/media/x.wav"},          // a root with a trailing backslash
		{in: `d:\recordings\x.wav`, want: "/mnt/d/x.wav"},                       // a drive path
		{in: `\\nas03\NICE\x.nmf`, err: `no media path_map of source dc1 matches \\nas03\NICE\x.nmf`},
		{in: `nas01\NICE\x.nmf`, err: "no media path_map"}, // not UNC: not the UNC prefix
		{in: `\\nas01\NICE\..\..\etc\passwd`, err: "climbs out of"},
		{in: "", err: "the call has no media path"},
		{in: "/srv/media/x.wav", want: "/srv/media/x.wav"}, // already local
	}
	for _, tt := range tests {
		got, err := pm.local(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("local(%q) = %q, %v; want error %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != filepath.FromSlash(tt.want) {
			t.Errorf("local(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestLocateMedia(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"ok.wav": "RIFF", "empty.wav": ""} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := &Source{media: newPathMapper("source dc1", &dsl.Media{PathMaps: []dsl.PathMap{{From: `\\nas\rec`, To: dir}}})}
	for in, want := range map[string]string{
		`\\nas\rec\ok.wav`:    filepath.Join(dir, "ok.wav"),
		`\\nas\rec\empty.wav`: "is empty",
		`\\nas\rec\sub`:       "is not a file",
		`\\nas\rec\gone.wav`:  "no such file or directory",
		`\\other\rec\ok.wav`:  "no media path_map",
	} {
		got, err := s.LocateMedia(context.Background(), in)
		if err != nil {
			got = err.Error()
		}
		if !strings.Contains(got, want) {
			t.Errorf("LocateMedia(%q) = %q, want %q", in, got, want)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.LocateMedia(ctx, `\\nas\rec\ok.wav`); err == nil {
		t.Error("a cancelled run still opens files")
	}
}

// FuzzPathMap: any recorded path maps inside a path_map's folder, is an
// absolute local path given as is, or is an error; nothing panics.
func FuzzPathMap(f *testing.F) {
	for _, s := range []string{`\\nas01\NICE\a\b.nmf`, `\\nas01\NICE\..\x`, `//nas01/nice/./a`, `/abs/x`, ``, `\\`, `\\nas01\NICE`, "\\\\nas01\\NICE\\a\x00b"} {
		f.Add(s)
	}
	pm := newPathMapper("source f", &dsl.Media{PathMaps: []dsl.PathMap{{From: `\\nas01\NICE`, To: "/mnt/nice"}}})
	f.Fuzz(func(t *testing.T, in string) {
		got, err := pm.local(in)
		if err != nil {
			return
		}
		if got != in && got != "/mnt/nice" && !strings.HasPrefix(got, "/mnt/nice/") {
			t.Fatalf("local(%q) = %q: outside the mount", in, got)
		}
	})
}

func TestCatalogInWindow(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 10, d, 0, 0, 0, 0, time.UTC) }
	c := &catalog{sets: []interactionSet{
		{number: "1", min: day(1), max: day(9)},
		{number: "2", min: day(10), max: day(19)},
		{number: "3", min: day(20)}, // open: no maximum yet
	}}
	for _, tt := range []struct {
		from time.Time
		want string
	}{
		{time.Time{}, "1 2 3"},
		{day(5), "1 2 3"},
		{day(19), "2 3"},
		{day(25), "3"},
	} {
		if got := strings.Join(numbers(c.inWindow(tt.from)), " "); got != tt.want {
			t.Errorf("from %s: sets %s, want %s", tt.from.Format(time.DateOnly), got, tt.want)
		}
	}
	// The newest set is read even when its maximum says it ended.
	c.sets[2].max = day(21)
	if got := numbers(c.inWindow(day(25))); len(got) != 1 || got[0] != "3" {
		t.Errorf("newest set not read: %v", got)
	}
}

// TestCatalogSetNumber: a set number that is not digits stops the run
// (it would be spliced into a table name), without retrying.
func TestCatalogSetNumber(t *testing.T) {
	f := newEngageFixture(t, demoOptions(100))
	mustExec(t, f.db, `INSERT INTO nice_interactions.dbo.tblInteractionCatalog VALUES ('4; DROP TABLE x', NULL, NULL)`)
	s := f.source(t, 0)
	err := s.ReadCalls(context.Background(), connector.CallQuery{}, func(*connector.CallRecord) error { return nil })
	if err == nil || !strings.Contains(err.Error(), `the interaction catalog lists set "4; DROP TABLE x", which is not a number`) {
		t.Fatalf("err = %v", err)
	}
}
