package figures

import (
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// MaxBars bounds categories × groups of a bar chart.
const MaxBars = 1 << 16

// BarGroup is one set of bars, one value per category, drawn in one colour.
type BarGroup struct {
	Name   string // legend entry; empty leaves the group out of the legend
	Values []float64
}

// BarsSpec describes a bar chart: per-head scores (previous-token,
// induction, copying) with one bar per head and group.
type BarsSpec struct {
	Title          string
	XLabel, YLabel string
	// Categories label the bar positions along the x axis, e.g. "L1H3".
	Categories []string
	// Groups are drawn side by side within each category; every group has
	// one finite value per category.
	Groups []BarGroup
	HLines []Marker // horizontal reference lines, e.g. a baseline
	YRange Range    // the zero Range fits the data and 0
}

// bars is a validated copy of a BarsSpec.
type bars struct {
	s          BarsSpec
	categories []string
	y          extent
}

// Bars validates s and returns its bar chart. It returns an error matching
// ErrInvalid when there are no categories or groups, when a group's length
// differs from the number of categories, when a value or marker is not
// finite, when there are more than MaxBars bars or when YRange is invalid.
func Bars(s BarsSpec) (*Figure, error) {
	n := len(s.Categories)
	if n == 0 || len(s.Groups) == 0 {
		return nil, invalidf("bars: %d categories and %d groups, want at least one of each", n, len(s.Groups))
	}
	if n > MaxBars/len(s.Groups) {
		return nil, invalidf("bars: %d×%d bars, want at most %d", n, len(s.Groups), MaxBars)
	}
	b := &bars{s: s, y: newExtent(false)}
	b.y.add(0)
	b.categories, _ = copyLabels("bars: categories", s.Categories, n)
	b.s.Groups = make([]BarGroup, len(s.Groups))
	for g, grp := range s.Groups {
		if len(grp.Values) != n {
			return nil, invalidf("bars: group %d (%q) has %d values for %d categories", g, grp.Name, len(grp.Values), n)
		}
		for i, v := range grp.Values {
			if err := checkFinite("bars: value "+s.Categories[i]+" of group "+grp.Name, v); err != nil {
				return nil, err
			}
			b.y.add(v)
		}
		b.s.Groups[g] = BarGroup{Name: cleanText(grp.Name), Values: append([]float64(nil), grp.Values...)}
	}
	var err error
	if b.s.HLines, err = copyMarkers("bars: horizontal line", s.HLines, &b.y); err != nil {
		return nil, err
	}
	if !s.YRange.isZero() {
		if err := b.y.set(s.YRange, "bars: y range"); err != nil {
			return nil, err
		}
	}
	w := clampSize(n*len(s.Groups)*14+n*10+140, 360, 2400)
	return &Figure{defW: w, defH: 380, draw: b.draw}, nil
}

// draw draws the chart into c.
func (b *bars) draw(c draw.Canvas) {
	p := newPlot(b.s.Title, b.s.XLabel, b.s.YLabel)
	n := len(b.categories)
	p.X.Min, p.X.Max = -0.5, float64(n)-0.5
	p.X.Padding = 0
	b.y.apply(&p.Y)
	cellW := max(1, c.Size().X-80) / vg.Length(n)
	p.X.Tick.Label.Font.Size, p.X.Tick.Marker = axisTicks(b.categories, n, cellW, false)
	turnCrowdedLabels(&p.X, cellW)

	grid := plotter.NewGrid()
	grid.Vertical.Color = nil
	p.Add(grid)
	var lg legend
	width := 0.8 / float64(len(b.s.Groups))
	for g, grp := range b.s.Groups {
		bp := barPlotter{values: grp.Values, offset: -0.4 + float64(g)*width, width: width, color: seriesColor(g)}
		p.Add(bp)
		lg.add(grp.Name, bp)
	}
	p.Add(markers{h: b.s.HLines})
	p.Draw(c)
	lg.draw(p.DataCanvas(c))
}

// turnCrowdedLabels turns the labels of a horizontal axis to read upwards
// when one is wider than the room between two labels, cell points apart.
func turnCrowdedLabels(a *plot.Axis, cell vg.Length) {
	ts := a.Tick.Marker.Ticks(a.Min, a.Max)
	if len(ts) < 2 {
		return
	}
	room := 0.9 * cell * vg.Length(math.Abs(ts[1].Value-ts[0].Value))
	for _, t := range ts {
		if a.Tick.Label.Width(t.Label) > room {
			a.Tick.Label.Rotation = math.Pi / 2
			a.Tick.Label.XAlign, a.Tick.Label.YAlign = draw.XRight, draw.YCenter
			return
		}
	}
}

// barPlotter draws one group's bars from 0 to each value, implementing
// plot.Plotter and plot.Thumbnailer.
type barPlotter struct {
	values        []float64
	offset, width float64 // in category units, relative to the category centre
	color         color.NRGBA
}

// Plot draws the bars.
func (bp barPlotter) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	for i, v := range bp.values {
		x0 := float64(i) + bp.offset
		pts := []vg.Point{
			{X: trX(x0), Y: trY(0)},
			{X: trX(x0 + bp.width), Y: trY(0)},
			{X: trX(x0 + bp.width), Y: trY(v)},
			{X: trX(x0), Y: trY(v)},
		}
		c.FillPolygon(bp.color, c.ClipPolygonY(pts))
	}
}

// Thumbnail draws the legend swatch.
func (bp barPlotter) Thumbnail(c *draw.Canvas) {
	c.FillPolygon(bp.color, []vg.Point{c.Min, {X: c.Max.X, Y: c.Min.Y}, c.Max, {X: c.Min.X, Y: c.Max.Y}})
}
