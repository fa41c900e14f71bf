package figures

import (
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Glyph is how the points of a PointSet are drawn.
type Glyph int

const (
	// Dot is a small translucent disc: many samples.
	Dot Glyph = iota
	// Cross is a large cross: a few reference points, such as mixture modes.
	Cross
	// Ring is an open circle.
	Ring
	// Vector is a line from the origin to the point, ending in a dot: the
	// feature directions of a superposition model.
	Vector
)

// PointSet is one named set of points of a scatter plot, drawn in one
// colour.
type PointSet struct {
	Name  string // legend entry; empty leaves the set out of the legend
	X, Y  []float64
	Glyph Glyph
}

// ScatterSpec describes a scatter plot: GAN samples against the modes of a
// Gaussian mixture, the feature geometry of a superposition model.
type ScatterSpec struct {
	Title          string
	XLabel, YLabel string
	Sets           []PointSet
	// EqualAxes gives both axes the same units per pixel, so that angles
	// and lengths read true.
	EqualAxes      bool
	XRange, YRange Range // the zero Range fits the data
}

// scatter is a validated copy of a ScatterSpec.
type scatter struct {
	s    ScatterSpec
	sets []plotter.XYs
	x, y extent
}

// Scatter validates s and returns its scatter plot. Points with a NaN or
// infinite coordinate are left out. It returns an error matching
// ErrInvalid when a set has len(X) ≠ len(Y), an unknown glyph, more than
// MaxPoints points in all, or an invalid range.
func Scatter(s ScatterSpec) (*Figure, error) {
	sc := &scatter{s: s, x: newExtent(false), y: newExtent(false)}
	sc.s.Sets = make([]PointSet, len(s.Sets))
	total := 0
	for i, set := range s.Sets {
		if len(set.X) != len(set.Y) {
			return nil, invalidf("scatter: set %d (%q): %d x values for %d y values", i, set.Name, len(set.X), len(set.Y))
		}
		if set.Glyph < Dot || set.Glyph > Vector {
			return nil, invalidf("scatter: set %d (%q): unknown glyph %d", i, set.Name, set.Glyph)
		}
		if total += len(set.X); total > MaxPoints {
			return nil, invalidf("scatter: more than %d points", MaxPoints)
		}
		xys := make(plotter.XYs, 0, len(set.X))
		for j := range set.X {
			x, y := set.X[j], set.Y[j]
			if sc.x.ok(x) && sc.y.ok(y) {
				xys = append(xys, plotter.XY{X: x, Y: y})
				sc.x.add(x)
				sc.y.add(y)
			}
		}
		if set.Glyph == Vector {
			sc.x.add(0)
			sc.y.add(0)
		}
		sc.sets = append(sc.sets, xys)
		sc.s.Sets[i] = PointSet{Name: cleanText(set.Name), Glyph: set.Glyph}
	}
	if !s.XRange.isZero() {
		if err := sc.x.set(s.XRange, "scatter: x range"); err != nil {
			return nil, err
		}
	}
	if !s.YRange.isZero() {
		if err := sc.y.set(s.YRange, "scatter: y range"); err != nil {
			return nil, err
		}
	}
	w, h := 600, 480
	if s.EqualAxes {
		w, h = 560, 540
	}
	return &Figure{defW: w, defH: h, draw: sc.draw}, nil
}

// draw draws the plot into c.
func (sc *scatter) draw(c draw.Canvas) {
	p := newPlot(sc.s.Title, sc.s.XLabel, sc.s.YLabel)
	sc.x.apply(&p.X)
	sc.y.apply(&p.Y)
	if !sc.x.explicit {
		widen(&p.X, 0.04)
	}
	if !sc.y.explicit {
		widen(&p.Y, 0.04)
	}
	p.Add(plotter.NewGrid())
	var lg legend
	for i, xys := range sc.sets {
		set := sc.s.Sets[i]
		col := seriesColor(i)
		glyph := draw.GlyphStyle{Color: col, Radius: vg.Points(3), Shape: draw.RingGlyph{}}
		switch set.Glyph {
		case Dot, Vector:
			glyph.Radius, glyph.Shape = vg.Points(2), draw.CircleGlyph{}
			if set.Glyph == Dot {
				glyph.Color = color.NRGBA{R: col.R, G: col.G, B: col.B, A: 0xb0}
			}
		case Cross:
			glyph.Radius, glyph.Shape = vg.Points(5), boldCross{}
		}
		if set.Glyph == Vector {
			p.Add(vectors{xys: xys, style: draw.LineStyle{Color: col, Width: vg.Points(1.2)}})
		}
		pts, _ := plotter.NewScatter(xys) // finite values only
		pts.GlyphStyle = glyph
		p.Add(pts)
		lg.add(set.Name, pts)
	}
	if sc.s.EqualAxes {
		// Twice, since new ranges may change the tick labels' widths.
		equalizeAxes(p, c)
		equalizeAxes(p, c)
	}
	p.Draw(c)
	lg.draw(p.DataCanvas(c))
}

// equalizeAxes widens one axis range of p so that both have the same units
// per point when p is drawn into c.
func equalizeAxes(p *plot.Plot, c draw.Canvas) {
	dc := p.DataCanvas(c)
	w, h := float64(dc.Size().X), float64(dc.Size().Y)
	if w <= 0 || h <= 0 {
		return
	}
	u := max((p.X.Max-p.X.Min)/w, (p.Y.Max-p.Y.Min)/h)
	cx, cy := p.X.Min/2+p.X.Max/2, p.Y.Min/2+p.Y.Max/2
	x0, x1, y0, y1 := cx-u*w/2, cx+u*w/2, cy-u*h/2, cy+u*h/2
	if !tickable(x0, x1) || !tickable(y0, y1) {
		return // a canvas too small, or ranges too large, to equalise
	}
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = x0, x1, y0, y1
}

// vectors draws a line from the origin to each point, implementing
// plot.Plotter.
type vectors struct {
	xys   plotter.XYs
	style draw.LineStyle
}

// Plot draws the lines, clipped to the data area.
func (v vectors) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	o := vg.Point{X: trX(0), Y: trY(0)}
	for _, xy := range v.xys {
		c.StrokeLines(v.style, c.ClipLinesXY([]vg.Point{o, {X: trX(xy.X), Y: trY(xy.Y)}})...)
	}
}

// widen adds a fraction f of the axis span on each side, unless that
// would overflow.
func widen(a *plot.Axis, f float64) {
	d := f * (a.Max - a.Min)
	if tickable(a.Min-d, a.Max+d) {
		a.Min, a.Max = a.Min-d, a.Max+d
	}
}

// boldCross is an × drawn with a 1.5-point line (draw.CrossGlyph's is
// hairline thin), implementing draw.GlyphDrawer.
type boldCross struct{}

// DrawGlyph draws the cross at pt.
func (boldCross) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	r := sty.Radius / 1.4142
	line := draw.LineStyle{Color: sty.Color, Width: vg.Points(1.5)}
	c.StrokeLine2(line, pt.X-r, pt.Y-r, pt.X+r, pt.Y+r)
	c.StrokeLine2(line, pt.X-r, pt.Y+r, pt.X+r, pt.Y-r)
}
