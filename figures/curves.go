package figures

import (
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// MaxPoints bounds the number of points in one Curves or Scatter figure.
const MaxPoints = 1 << 22

// Series is one named curve of a line chart.
type Series struct {
	// Name is the legend entry; an empty name leaves the series out of the
	// legend.
	Name string
	// X and Y are the coordinates, of equal length; a nil X means 0, 1, 2, …
	// (one point per step). Points with a NaN or infinite coordinate, or a
	// non-positive one on a log axis, are left out and break the line.
	X, Y []float64
}

// Marker is a labelled reference line: a vertical one at X = At (the step
// of a phase change) or a horizontal one at Y = At (a random baseline).
type Marker struct {
	At    float64
	Label string
}

// CurvesSpec describes a line chart of several series: training curves,
// head scores over steps, per-layer losses.
type CurvesSpec struct {
	Title          string
	XLabel, YLabel string
	Series         []Series
	LogX, LogY     bool  // logarithmic axes
	YRange         Range // the zero Range fits the data
	VLines         []Marker
	HLines         []Marker
	// LegendLeft and LegendBottom move the legend from the top right.
	LegendLeft, LegendBottom bool
}

// curves is a validated copy of a CurvesSpec.
type curves struct {
	s      CurvesSpec
	series [][]plotter.XYs // per series, the unbroken runs of drawable points
	x, y   extent
}

// Curves validates s and returns its line chart. It returns an error
// matching ErrInvalid when a series has len(X) ≠ len(Y), when there are more
// than MaxPoints points, when a marker is not finite (or not positive on a
// log axis) or when YRange is invalid.
func Curves(s CurvesSpec) (*Figure, error) {
	cv := &curves{s: s, x: newExtent(s.LogX), y: newExtent(s.LogY)}
	cv.s.Series = nil
	total := 0
	for i, se := range s.Series {
		if se.X != nil && len(se.X) != len(se.Y) {
			return nil, invalidf("curves: series %d (%q): %d x values for %d y values", i, se.Name, len(se.X), len(se.Y))
		}
		if total += len(se.Y); total > MaxPoints {
			return nil, invalidf("curves: more than %d points", MaxPoints)
		}
		cv.series = append(cv.series, cv.runs(se))
		cv.s.Series = append(cv.s.Series, Series{Name: se.Name})
	}
	var err error
	if cv.s.VLines, err = copyMarkers("curves: vertical line", s.VLines, &cv.x); err != nil {
		return nil, err
	}
	if cv.s.HLines, err = copyMarkers("curves: horizontal line", s.HLines, &cv.y); err != nil {
		return nil, err
	}
	if !s.YRange.isZero() {
		if err := cv.y.set(s.YRange, "curves: y range"); err != nil {
			return nil, err
		}
	}
	return &Figure{defW: 720, defH: 420, draw: cv.draw}, nil
}

// runs splits a series into unbroken runs of drawable points, widening the
// extents to hold them.
func (cv *curves) runs(se Series) []plotter.XYs {
	var out []plotter.XYs
	var run plotter.XYs
	for i, y := range se.Y {
		x := float64(i)
		if se.X != nil {
			x = se.X[i]
		}
		if !cv.x.ok(x) || !cv.y.ok(y) {
			if len(run) > 0 {
				out = append(out, run)
				run = nil
			}
			continue
		}
		cv.x.add(x)
		cv.y.add(y)
		run = append(run, plotter.XY{X: x, Y: y})
	}
	if len(run) > 0 {
		out = append(out, run)
	}
	return out
}

// copyMarkers validates markers against the axis extent e, widens e to
// hold them and returns a copy.
func copyMarkers(what string, ms []Marker, e *extent) ([]Marker, error) {
	out := make([]Marker, len(ms))
	for i, m := range ms {
		if !e.ok(m.At) {
			if e.log {
				return nil, invalidf("%s %d at %v: want a finite positive value on a log axis", what, i, m.At)
			}
			return nil, invalidf("%s %d at %v: want a finite value", what, i, m.At)
		}
		e.add(m.At)
		out[i] = Marker{At: m.At, Label: cleanText(m.Label)}
	}
	return out, nil
}

// draw draws the chart into c.
func (cv *curves) draw(c draw.Canvas) {
	p := newPlot(cv.s.Title, cv.s.XLabel, cv.s.YLabel)
	lg := legend{left: cv.s.LegendLeft, bottom: cv.s.LegendBottom}
	p.Add(plotter.NewGrid())
	for i, runs := range cv.series {
		col := seriesColor(i)
		var entry plot.Thumbnailer
		for _, run := range runs {
			if len(run) == 1 {
				sc, _ := plotter.NewScatter(run)
				sc.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(1.5), Shape: draw.CircleGlyph{}}
				p.Add(sc)
				continue
			}
			l, _ := plotter.NewLine(run) // run holds finite values only
			l.LineStyle = draw.LineStyle{Color: col, Width: vg.Points(1.5)}
			p.Add(l)
			entry = l
		}
		if entry == nil {
			entry = &plotter.Line{LineStyle: draw.LineStyle{Color: col, Width: vg.Points(1.5)}}
		}
		lg.add(cv.s.Series[i].Name, entry)
	}
	p.Add(markers{v: cv.s.VLines, h: cv.s.HLines})
	// The axes are set after the plotters are added: plot.Add widens them
	// to the data, which would override an explicit YRange.
	cv.x.apply(&p.X)
	cv.y.apply(&p.Y)
	p.Draw(c)
	lg.draw(p.DataCanvas(c))
}

// extent is the range of one axis: grown from data, or set.
type extent struct {
	log      bool
	lo, hi   float64
	explicit bool
}

func newExtent(log bool) extent { return extent{log: log, lo: math.Inf(1), hi: math.Inf(-1)} }

// ok reports whether v can be drawn on the axis.
func (e *extent) ok(v float64) bool {
	return !math.IsNaN(v) && !math.IsInf(v, 0) && (!e.log || v > 0)
}

// add widens the extent to hold v, unless it was set.
func (e *extent) add(v float64) {
	if !e.explicit {
		e.lo, e.hi = min(e.lo, v), max(e.hi, v)
	}
}

// set fixes the extent to r.
func (e *extent) set(r Range, what string) error {
	if err := r.validate(what); err != nil {
		return err
	}
	if e.log && r.Min <= 0 {
		return invalidf("%s [%v, %v]: want min > 0 on a log axis", what, r.Min, r.Max)
	}
	e.lo, e.hi, e.explicit = r.Min, r.Max, true
	return nil
}

// apply sets the axis range, scale and ticks; an empty or degenerate
// extent is widened so that the axis is valid.
func (e extent) apply(a *plot.Axis) {
	if e.log {
		a.Min, a.Max = logRange(e.lo, e.hi)
	} else {
		a.Min, a.Max = linearRange(e.lo, e.hi)
	}
	if e.log {
		a.Scale = plot.LogScale{}
		a.Tick.Marker = logTicks{}
	} else {
		a.Tick.Marker = linearTicks{}
	}
}

// linearRange returns a finite axis range holding [lo, hi] (lo > hi:
// empty) on which ticks can be placed: an empty or one-value extent is
// widened around it, within float64's finite range.
func linearRange(lo, hi float64) (float64, float64) {
	switch {
	case lo > hi:
		return 0, 1
	case lo == hi:
		d := max(math.Abs(lo)/2, 0.5)
		lo, hi = lo-d, hi+d
	}
	if !tickable(lo, hi) { // only a span too narrow for its magnitude is left
		d := max(math.Abs(lo), math.Abs(hi)) * 1e-6
		lo, hi = lo-d, hi+d
	}
	return max(lo, -math.MaxFloat64), min(hi, math.MaxFloat64)
}

// Bounds of the decade exponents logRange widens to: 10^minLogExp is a
// normal float64 and 10^maxLogExp is finite.
const (
	minLogExp = -307.0
	maxLogExp = 308.0
)

// logRange returns a positive, finite axis range holding [lo, hi] (lo > hi:
// empty; lo > 0 otherwise) for a log axis: an empty extent is [1, 10], a
// single value or a span too narrow to tick gets a decade around it,
// widened inwards where it would leave float64's range.
func logRange(lo, hi float64) (float64, float64) {
	if lo > hi {
		return 1, 10
	}
	if hi > lo*(1+1e-6) { // lo*(1+1e-6) is +Inf near MaxFloat64: widen
		return lo, hi
	}
	l, h := math.Log10(lo)-0.5, math.Log10(hi)+0.5
	if h > maxLogExp {
		h, l = maxLogExp, min(l, maxLogExp-1)
	}
	if l < minLogExp {
		l, h = minLogExp, max(h, minLogExp+1)
	}
	return min(lo, math.Pow(10, l)), max(hi, math.Pow(10, h))
}

// linearTicks is plot.DefaultTicks with compact labels.
type linearTicks struct{}

// Ticks returns the ticks for [lo, hi]: plot.DefaultTicks' when the range
// is finite and wide enough for it (it does not return otherwise), else
// the two ends.
func (linearTicks) Ticks(lo, hi float64) []plot.Tick {
	if !tickable(lo, hi) {
		if math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
			return nil
		}
		return []plot.Tick{{Value: lo, Label: formatTick(lo)}, {Value: hi, Label: formatTick(hi)}}
	}
	ts := (plot.DefaultTicks{}).Ticks(lo, hi)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = formatTick(ts[i].Value)
		}
	}
	return ts
}

// tickable reports whether [lo, hi] is a finite range wide enough, relative
// to its magnitude, for tick placement.
func tickable(lo, hi float64) bool {
	span := hi - lo
	return span > 0 && !math.IsInf(span, 0) && !math.IsNaN(span) &&
		span > 1e-9*max(math.Abs(lo), math.Abs(hi))
}

// logTicks ticks a log axis: every power of ten labelled with minor ticks
// between, and 2× and 5× labelled too when the axis spans less than two
// decades.
type logTicks struct{}

// Ticks returns the ticks for [lo, hi], lo > 0.
func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(lo > 0) || !(hi > lo) || math.IsInf(hi, 0) {
		return nil
	}
	first := int(math.Floor(math.Log10(lo)))
	last := int(math.Ceil(math.Log10(hi)))
	labelled := map[int]bool{1: true}
	if last-first <= 2 {
		labelled[2], labelled[5] = true, true
	}
	if last-first <= 1 {
		for m := 3; m <= 9; m++ {
			labelled[m] = true
		}
	}
	var ts []plot.Tick
	for d := first; d <= last; d++ {
		base := math.Pow(10, float64(d))
		for m := 1; m <= 9; m++ {
			v := float64(m) * base
			if v < lo*(1-1e-9) || v > hi*(1+1e-9) {
				continue
			}
			t := plot.Tick{Value: v}
			if labelled[m] {
				t.Label = formatTick(v)
			}
			ts = append(ts, t)
		}
	}
	return ts
}

// markers draws labelled vertical and horizontal reference lines,
// implementing plot.Plotter.
type markers struct{ v, h []Marker }

// markerColor is the colour of marker lines and labels.
var markerColor = color.NRGBA{R: 0x44, G: 0x44, B: 0x44, A: 0xff}

// Plot draws the markers across the data area c.
func (m markers) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	line := draw.LineStyle{Color: markerColor, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}}
	sty := textStyle(tickSize, markerColor)
	for _, mk := range m.v {
		x := trX(mk.At)
		c.StrokeLine2(line, x, c.Min.Y, x, c.Max.Y)
		sty.XAlign, sty.YAlign = draw.XLeft, draw.YTop
		pt := vg.Point{X: x + 3, Y: c.Max.Y - 2}
		if x+3+sty.Width(mk.Label) > c.Max.X {
			sty.XAlign, pt.X = draw.XRight, x-3
		}
		drawLabelOnBackdrop(c, sty, pt, mk.Label)
	}
	for _, mk := range m.h {
		y := trY(mk.At)
		c.StrokeLine2(line, c.Min.X, y, c.Max.X, y)
		sty.XAlign, sty.YAlign = draw.XRight, draw.YBottom
		drawLabelOnBackdrop(c, sty, vg.Point{X: c.Max.X - 3, Y: y + 2}, mk.Label)
	}
}
