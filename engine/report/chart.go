package report

import (
	"fmt"
	"math"
	"sort"
	"time"
)

// Charts are inline SVG laid out here, in Go: no script runs in the page,
// it prints as it shows, and a mail client that strips scripts keeps it.

// chartWidth is the drawing's width in SVG units; it scales to the page.
const chartWidth = 720

// hbarChart is a horizontal bar chart: one labelled bar per row.
type hbarChart struct {
	Width, Height int
	Label         string // for screen readers
	Bars          []hbar
}

type hbar struct {
	Y, TextY  float64
	LabelX    float64
	BarX, W   float64
	H         float64
	CountX    float64
	Label     string
	N         int
	TitleText string
}

// exclusionChart draws exclusions by reason, most first: a section's, and
// those of the same reasons counted by the database (extra).
func exclusionChart(s Section, extra []Line) *hbarChart {
	n := map[string]int{}
	for _, set := range [][]Line{s.Lines, extra} {
		for _, l := range set {
			if l.State == "excluded" {
				n[l.Reason] += l.N
			}
		}
	}
	var lines []Line
	for r, c := range n {
		lines = append(lines, Line{Reason: r, N: c})
	}
	sort.Slice(lines, func(i, j int) bool {
		if lines[i].N != lines[j].N {
			return lines[i].N > lines[j].N
		}
		return lines[i].Reason < lines[j].Reason
	})
	if len(lines) == 0 {
		return nil
	}
	const rowH, barH, labelW, countW, top = 26.0, 18.0, 200.0, 70.0, 6.0
	maxN := 0
	for _, l := range lines {
		maxN = max(maxN, l.N)
	}
	plotW := chartWidth - labelW - countW
	c := &hbarChart{Width: chartWidth, Height: int(top*2 + rowH*float64(len(lines))), Label: "calls excluded, by reason"}
	for i, l := range lines {
		y := top + rowH*float64(i)
		w := plotW * float64(l.N) / float64(maxN)
		w = math.Max(w, 1) // a bar of 1 row must still show
		c.Bars = append(c.Bars, hbar{
			Y: y, H: barH, TextY: y + barH - 4, LabelX: labelW - 8, BarX: labelW, W: w, CountX: labelW + w + 6,
			Label: l.Reason, N: l.N, TitleText: fmt.Sprintf("%s: %d", l.Reason, l.N),
		})
	}
	return c
}

// vbarChart is a column chart over days.
type vbarChart struct {
	Width, Height int
	Label         string
	PlotLeft      float64
	PlotTop       float64
	PlotBottom    float64
	PlotRight     float64
	MaxLabel      int
	MaxLabelY     float64
	Bars          []vbar
	Ticks         []tick
}

type vbar struct {
	X, Y, W, H float64
	TitleText  string
}

type tick struct {
	X     float64
	Y     float64
	Label string
}

// dayChart draws calls imported per day, one column per day from the first
// to the last (days without calls are gaps, so the time axis is true).
func dayChart(p PerDay) *vbarChart {
	if len(p.Days) == 0 {
		return nil
	}
	days := fillDays(p.Days)
	const height, left, right, top, bottom = 240.0, 56.0, 12.0, 16.0, 40.0
	c := &vbarChart{Width: chartWidth, Height: int(height), Label: "calls imported per day",
		PlotLeft: left, PlotTop: top, PlotBottom: height - bottom, PlotRight: chartWidth - right}
	maxN := 0
	for _, d := range days {
		maxN = max(maxN, d.N)
	}
	c.MaxLabel, c.MaxLabelY = maxN, top+4
	plotW, plotH := c.PlotRight-c.PlotLeft, c.PlotBottom-c.PlotTop
	slot := plotW / float64(len(days))
	barW := math.Min(math.Max(slot*0.8, 1), 40)      // a few days must not make slabs
	every := int(math.Ceil(float64(len(days)) / 10)) // at most about 10 date labels
	lastTick := -every
	for i, d := range days {
		x := c.PlotLeft + slot*float64(i) + (slot-barW)/2
		if d.N > 0 {
			h := math.Max(plotH*float64(d.N)/float64(maxN), 1)
			c.Bars = append(c.Bars, vbar{X: x, Y: c.PlotBottom - h, W: barW, H: h, TitleText: fmt.Sprintf("%s: %d", d.Day, d.N)})
		}
		// Every few days, and the last day when it is not too close to
		// the label before it.
		if i%every == 0 || (i == len(days)-1 && i-lastTick > every/2) {
			c.Ticks = append(c.Ticks, tick{X: x + barW/2, Y: c.PlotBottom + 16, Label: d.Day[5:]})
			lastTick = i
		}
	}
	return c
}

func parseDay(s string) (time.Time, error) { return time.Parse(time.DateOnly, s) }

// fillDays lists every day from the first to the last, 0 where none.
func fillDays(days []DayCount) []DayCount {
	first, err1 := parseDay(days[0].Day)
	last, err2 := parseDay(days[len(days)-1].Day)
	if err1 != nil || err2 != nil || last.Sub(first).Hours()/24 > 3660 {
		return days // unparsable or absurd: draw what there is
	}
	n := map[string]int{}
	for _, d := range days {
		n[d.Day] = d.N
	}
	var out []DayCount
	for t := first; !t.After(last); t = t.AddDate(0, 0, 1) {
		k := t.Format("2006-01-02")
		out = append(out, DayCount{Day: k, N: n[k]})
	}
	return out
}
