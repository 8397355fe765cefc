package web

import (
	"fmt"
	"math"
	"strings"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// barChart is a horizontal bar chart laid out for an SVG template.
type barChart struct {
	Title  string
	Width  float64
	Height float64
	// BarX is where bars start (labels sit left of it); ValueDX places the
	// count after a bar.
	BarX, ValueDX float64
	Bars          []bar
	Empty         bool
}

// chartLayout sizes a chart for a wide or a narrow (phone) screen: SVG text
// scales with the drawing, so each screen gets a drawing near its real size.
type chartLayout struct {
	Width    float64
	LabelW   float64 // bar charts: label column
	BarMax   float64 // bar charts: longest bar
	LabelMax int     // bar charts: label characters
	Every    int     // line charts: label every n-th day
}

var (
	wideLayout   = chartLayout{Width: 900, LabelW: 170, BarMax: 260, LabelMax: 22, Every: 2}
	narrowLayout = chartLayout{Width: 340, LabelW: 120, BarMax: 180, LabelMax: 15, Every: 4}
	barLayout    = chartLayout{Width: 480, LabelW: 170, BarMax: 260, LabelMax: 22}
)

type bar struct {
	Label string
	Full  string
	Value string
	Y     float64
	W     float64 // bar width in the 0..BarMax range
	TextY float64
}

const (
	barRow   = 28.0
	maxBars  = 10
	lineH    = 220.0
	linePadL = 40.0
	linePadB = 28.0
	linePadT = 12.0
)

// newBarChart lays out the largest counts (at most maxBars).
func newBarChart(title string, counts []sm.Count, label func(string) string, lay chartLayout) barChart {
	c := barChart{Title: title, Width: lay.Width, BarX: lay.LabelW, ValueDX: lay.LabelW + 6}
	var top int64
	for i, n := range counts {
		if i == maxBars {
			break
		}
		top = max(top, n.Count)
	}
	for i, n := range counts {
		if i == maxBars {
			break
		}
		w := 0.0
		if top > 0 {
			w = math.Max(2, float64(n.Count)/float64(top)*lay.BarMax)
		}
		y := float64(i) * barRow
		full := label(n.Key)
		c.Bars = append(c.Bars, bar{Label: shortenRunes(full, lay.LabelMax), Full: full, Value: formatCount(n.Count), Y: y + 6, W: round1(w), TextY: y + 19})
	}
	c.Height = math.Max(barRow, float64(len(c.Bars))*barRow)
	c.Empty = len(c.Bars) == 0
	return c
}

// lineChart is a line chart of a daily series.
type lineChart struct {
	Width, Height float64
	Points        string // polyline points
	Area          string // closed polygon under the line
	Dots          []lineDot
	Grid          []gridLine
	Labels        []axisLabel
	Total         string
	Empty         bool
}

type lineDot struct {
	X, Y  float64
	Title string
}

type gridLine struct {
	Y     float64
	Label string
}

type axisLabel struct {
	X    float64
	Text string
}

// newLineChart draws the counts in order; keys are YYYY-MM-DD days.
func newLineChart(days []sm.Count, lay chartLayout) lineChart {
	lineW := lay.Width
	c := lineChart{Width: lineW, Height: lineH}
	var top, total int64
	for _, d := range days {
		top = max(top, d.Count)
		total += d.Count
	}
	c.Total = formatCount(total)
	c.Empty = len(days) == 0
	if c.Empty {
		return c
	}
	scale := niceCeil(top)
	plotW, plotH := lineW-linePadL-28, lineH-linePadT-linePadB
	step := plotW
	if len(days) > 1 {
		step = plotW / float64(len(days)-1)
	}
	var pts []string
	for i, d := range days {
		x := round1(linePadL + float64(i)*step)
		y := round1(linePadT + plotH - float64(d.Count)/float64(scale)*plotH)
		pts = append(pts, fmt.Sprintf("%g,%g", x, y))
		c.Dots = append(c.Dots, lineDot{X: x, Y: y, Title: fmt.Sprintf("%s: %s logins", d.Key, formatCount(d.Count))})
		if (len(days)-1-i)%lay.Every == 0 { // from the end: today always has a label
			c.Labels = append(c.Labels, axisLabel{X: x, Text: dayLabel(d.Key)})
		}
	}
	c.Points = strings.Join(pts, " ")
	base := round1(linePadT + plotH)
	c.Area = fmt.Sprintf("%g,%g %s %g,%g", linePadL, base, c.Points, c.Dots[len(c.Dots)-1].X, base)
	for i := 0; i <= 4; i++ {
		v := scale * int64(i) / 4
		c.Grid = append(c.Grid, gridLine{Y: round1(linePadT + plotH - float64(i)/4*plotH), Label: formatCount(v)})
	}
	return c
}

// niceCeil returns the top of the axis for a maximum of n: four grid steps
// of a round whole size (1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten).
func niceCeil(n int64) int64 {
	need := max(1, (n+3)/4) // the smallest step that reaches n in four
	for p := int64(1); ; p *= 10 {
		for _, m := range []int64{10, 15, 20, 25, 30, 40, 50, 60, 80} {
			step := m * p / 10
			if step*10 != m*p || step < need {
				continue
			}
			return 4 * step
		}
	}
}

func dayLabel(key string) string {
	t, err := time.Parse("2006-01-02", key)
	if err != nil {
		return key
	}
	return t.Format("Jan 2")
}

type analyticsData struct {
	Stats        *sm.Stats
	Logins       lineChart
	LoginsNarrow lineChart
	Charts       []chartPair
	AvgLabel     string
}

// chartPair is one bar chart drawn for wide and for narrow screens.
type chartPair struct {
	Title        string
	Wide, Narrow barChart
}

func newChartPair(title string, counts []sm.Count, label func(string) string) chartPair {
	return chartPair{Title: title, Wide: newBarChart(title, counts, label, barLayout), Narrow: newBarChart(title, counts, label, narrowLayout)}
}

func countryLabel(code string) string {
	if f := sm.FlagEmoji(code); f != "" {
		return f + " " + countryName(code)
	}
	if code == "" {
		return "Unknown"
	}
	return code
}

func plainLabel(k string) string {
	if k == "" {
		return "Unknown"
	}
	return k
}

// shortenRunes cuts s to n characters (not bytes) with an ellipsis.
func shortenRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
