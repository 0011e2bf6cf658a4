package report_test

import (
	"bytes"
	"encoding/json"
	"html"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/applink-dev/applink/engine/report"
	"github.com/applink-dev/applink/engine/report/reporttest"
)

// The page as a browser shows it: headless Chromium renders the HTML
// report, takes a screenshot and dumps the DOM after layout. A probe
// script, added to a copy of the page only (the report itself has none),
// measures each chart and copies the rendered text into the DOM.
//
// Chromium is Debian's `chromium` (.ci/run installs it). Without it the
// test skips, unless APPLINK_REQUIRE_CHROMIUM is set (CI): then it fails.

const probeScript = `<script>
(function () {
  var svgs = Array.prototype.map.call(document.querySelectorAll('svg'), function (s) {
    var r = s.getBoundingClientRect();
    var bars = Array.prototype.map.call(s.querySelectorAll('rect'), function (b) { var q = b.getBoundingClientRect(); return q.width * q.height; });
    return {label: s.getAttribute('aria-label'), w: r.width, h: r.height, bars: bars.length, barArea: bars.reduce(function (a, b) { return a + b; }, 0)};
  });
  // Every table cell inside its table, and every table inside its
  // section: a long reason wraps instead of running past the edge.
  var overflows = [];
  Array.prototype.forEach.call(document.querySelectorAll('table'), function (t) {
    var tr = t.getBoundingClientRect();
    var pr = t.parentElement.getBoundingClientRect();
    if (tr.right > pr.right + 1) {
      overflows.push({what: 'table', text: (t.rows[0] ? t.rows[0].innerText : '').slice(0, 80), right: tr.right, edge: pr.right});
    }
    Array.prototype.forEach.call(t.querySelectorAll('td,th'), function (c) {
      var r = c.getBoundingClientRect();
      if (r.right > tr.right + 1 || c.scrollWidth > c.clientWidth + 1) {
        overflows.push({what: 'cell', text: c.innerText.slice(0, 80), right: r.right + c.scrollWidth - c.clientWidth, edge: tr.right});
      }
    });
  });
  var pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify({svgs: svgs, text: document.body.innerText, width: document.documentElement.scrollWidth, overflows: overflows});
  document.body.appendChild(pre);
})();
</script>`

type probe struct {
	SVGs []struct {
		Label   string  `json:"label"`
		W       float64 `json:"w"`
		H       float64 `json:"h"`
		Bars    int     `json:"bars"`
		BarArea float64 `json:"barArea"`
	} `json:"svgs"`
	Text      string  `json:"text"`
	Width     float64 `json:"width"`
	Overflows []struct {
		What, Text  string
		Right, Edge float64
	} `json:"overflows"`
}

func TestHTMLInChromium(t *testing.T) {
	bin := reporttest.Chromium(t)
	r := build(t, report.Options{Plan: testPlan(t)})
	page := render(t, r, "html")

	// Where the screenshot stays after the test, to be looked at.
	dir := filepath.Join(os.TempDir(), "applink-report")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	pagePath := filepath.Join(dir, "report.html")
	if err := os.WriteFile(pagePath, page, 0o644); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "report.png")
	os.Remove(shot)
	const w, h = 1100, 4000
	reporttest.RunChromium(t, bin, "--screenshot="+shot, "--window-size=1100,4000", "file://"+pagePath)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatalf("screenshot %s: %v", shot, err)
	}
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
		t.Errorf("screenshot is %dx%d, want %dx%d", b.Dx(), b.Dy(), w, h)
	}
	if ink := inked(img); ink < 0.01 {
		t.Errorf("the screenshot is blank (%.3f %% of pixels drawn)", ink*100)
	}
	t.Logf("screenshot of the HTML report: %s (page %s)", shot, pagePath)

	// The page after layout, measured by the probe.
	probed := bytes.Replace(page, []byte("</body>"), []byte(probeScript+"</body>"), 1)
	probePath := filepath.Join(t.TempDir(), "probe.html")
	if err := os.WriteFile(probePath, probed, 0o644); err != nil {
		t.Fatal(err)
	}
	dom := reporttest.RunChromium(t, bin, "--window-size=1100,4000", "--virtual-time-budget=5000", "--dump-dom", "file://"+probePath)
	m := regexp.MustCompile(`(?s)<pre id="probe">(.*?)</pre>`).FindSubmatch(dom)
	if m == nil {
		t.Fatalf("the probe did not run; DOM:\n%.2000s", dom)
	}
	var p probe
	if err := json.Unmarshal([]byte(html.UnescapeString(string(m[1]))), &p); err != nil {
		t.Fatalf("probe: %v", err)
	}
	labels := map[string]bool{}
	for _, s := range p.SVGs {
		labels[s.Label] = true
		if s.W <= 0 || s.H <= 0 || s.Bars == 0 || s.BarArea <= 0 {
			t.Errorf("chart %q is laid out %.0fx%.0f with %d bars of %.0f px² in all", s.Label, s.W, s.H, s.Bars, s.BarArea)
		}
	}
	for _, want := range []string{"calls excluded, by reason", "agents excluded, by reason", "calls imported per day"} {
		if !labels[want] {
			t.Errorf("no chart %q on the page (charts: %v)", want, labels)
		}
	}
	for _, o := range p.Overflows {
		t.Errorf("a %s runs past its edge (%.0f px > %.0f px): %q", o.What, o.Right, o.Edge, o.Text)
	}
	if !strings.Contains(p.Text, "0x7FFFFFFFFFFF") {
		t.Error("the long reason of the values left out is not on the page: the overflow check checked nothing")
	}
	if p.Width > w {
		t.Errorf("the page is %.0f px wide in a %d px window: it scrolls sideways", p.Width, w)
	}
	text := strings.Join(strings.Fields(p.Text), " ")
	for _, re := range reporttest.CountPatterns(r) {
		if !re.MatchString(text) {
			t.Errorf("the rendered text lacks %s", re)
		}
	}
	for _, want := range []string{"Recording import report: acme", "acme-eu1", "calls that started on or after 2026-10-27T00:00:00Z",
		"The call lasted 2 seconds or less."} {
		if !strings.Contains(text, want) {
			t.Errorf("the rendered text lacks %q", want)
		}
	}
}

// inked is the share of pixels that are not (near) white.
func inked(img image.Image) float64 {
	b := img.Bounds()
	n, ink := 0, 0
	for y := b.Min.Y; y < b.Max.Y; y += 4 {
		for x := b.Min.X; x < b.Max.X; x += 4 {
			r, g, bl, _ := img.At(x, y).RGBA()
			n++
			if r < 0xe000 || g < 0xe000 || bl < 0xe000 {
				ink++
			}
		}
	}
	return float64(ink) / float64(n)
}
