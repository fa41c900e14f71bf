package figures

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/brewer"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// ColorMap chooses how values become colours.
type ColorMap int

const (
	// Auto lets the figure choose: Sequential for heatmaps, Grey for image
	// grids.
	Auto ColorMap = iota
	// Sequential runs from near-white (low) to dark blue (high), ColorBrewer's
	// "Blues" as in CircuitsVis: attention patterns, probabilities, scores.
	Sequential
	// Diverging runs from blue (negative) through white (zero) to red
	// (positive), ColorBrewer's "RdBu": patching results, direct logit
	// attribution. It is centred at 0: a value v maps to the colour at
	// 0.5 + v/(2m) along the map, m the larger magnitude of the range ends,
	// so equal magnitudes get equal intensity whatever the range.
	Diverging
	// Grey runs from black (low) to white (high): images.
	Grey
)

// String returns the colour map's name.
func (m ColorMap) String() string {
	switch m {
	case Auto:
		return "auto"
	case Sequential:
		return "sequential"
	case Diverging:
		return "diverging"
	case Grey:
		return "grey"
	}
	return fmt.Sprintf("ColorMap(%d)", int(m))
}

// Range is the closed interval of values [Min, Max] that a colour map
// spans; values outside it take the colour of the nearer end. The zero
// Range means "from the data".
type Range struct{ Min, Max float64 }

// isZero reports whether r is the zero Range.
func (r Range) isZero() bool { return r == Range{} }

// validate checks an explicit range.
func (r Range) validate(what string) error {
	if err := checkFinite(what+" min", r.Min); err != nil {
		return err
	}
	if err := checkFinite(what+" max", r.Max); err != nil {
		return err
	}
	if !(r.Min < r.Max) {
		return invalidf("%s [%v, %v]: want min < max", what, r.Min, r.Max)
	}
	if math.IsInf(r.Max-r.Min, 0) {
		return invalidf("%s [%v, %v]: too wide", what, r.Min, r.Max)
	}
	return nil
}

// scale maps values to colours for one figure.
type scale struct {
	lo, hi    float64 // value range shown on the colour bar
	diverging bool
	m         float64 // for diverging maps: max(|lo|, |hi|)
	stops     []color.NRGBA
}

// newScale resolves the colour map and range for values; r is used when
// not zero, otherwise the range is the finite values' extent (for Diverging,
// ±max|v|). A range with no finite values is [0, 1].
func newScale(m ColorMap, r Range, values func(yield func(float64) bool)) (scale, error) {
	s := scale{stops: stops(m), diverging: m == Diverging}
	if !r.isZero() {
		if err := r.validate("colour range"); err != nil {
			return scale{}, err
		}
		s.lo, s.hi = r.Min, r.Max
	} else {
		lo, hi := math.Inf(1), math.Inf(-1)
		for v := range values {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				lo, hi = min(lo, v), max(hi, v)
			}
		}
		switch {
		case lo > hi: // no finite values
			lo, hi = 0, 1
		case s.diverging:
			hi = max(-lo, hi)
			if hi == 0 {
				hi = 1
			}
			lo = -hi
		case lo == hi:
			d := max(math.Abs(lo)/2, 0.5)
			lo, hi = lo-d, hi+d
		}
		if !tickable(lo, hi) && hi-lo > 0 {
			d := max(math.Abs(lo), math.Abs(hi)) * 1e-6
			lo, hi = lo-d, hi+d
		}
		s.lo, s.hi = lo, hi
		if err := (Range{lo, hi}).validate("colour range of the data"); err != nil {
			return scale{}, err
		}
	}
	s.m = max(math.Abs(s.lo), math.Abs(s.hi))
	return s, nil
}

// frac returns where v falls along the colour map, in [0, 1]. v must not be
// NaN.
func (s scale) frac(v float64) float64 {
	var t float64
	if s.diverging {
		t = 0.5 + v/(2*s.m)
	} else {
		t = (v - s.lo) / (s.hi - s.lo)
	}
	return max(0, min(1, t))
}

// color returns the colour of v; NaN takes the mask colour.
func (s scale) color(v float64) color.NRGBA {
	if math.IsNaN(v) {
		return maskColor
	}
	return lerpStops(s.stops, s.frac(v))
}

// lerpStops interpolates linearly between evenly spaced colour stops.
func lerpStops(stops []color.NRGBA, t float64) color.NRGBA {
	x := t * float64(len(stops)-1)
	i := int(x)
	if i >= len(stops)-1 {
		return stops[len(stops)-1]
	}
	f := x - float64(i)
	a, b := stops[i], stops[i+1]
	mix := func(p, q uint8) uint8 { return uint8(math.Round(float64(p) + f*(float64(q)-float64(p)))) }
	return color.NRGBA{R: mix(a.R, b.R), G: mix(a.G, b.G), B: mix(a.B, b.B), A: 0xff}
}

// stops returns the colour stops of m, low to high. Auto gives Sequential's.
func stops(m ColorMap) []color.NRGBA {
	switch m {
	case Grey:
		return []color.NRGBA{{A: 0xff}, {R: 0xff, G: 0xff, B: 0xff, A: 0xff}}
	case Diverging:
		s := brewerStops(brewer.TypeDiverging, "RdBu", 11)
		for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 { // red first → blue first
			s[i], s[j] = s[j], s[i]
		}
		return s
	default:
		return brewerStops(brewer.TypeSequential, "Blues", 9)
	}
}

// brewerStops returns a ColorBrewer palette as opaque colours. It panics if
// the palette does not exist: the names are fixed in this file.
func brewerStops(typ brewer.PaletteType, name string, n int) []color.NRGBA {
	p, err := brewer.GetPalette(typ, name, n)
	if err != nil {
		panic(fmt.Sprintf("figures: brewer palette %s/%d: %v", name, n, err))
	}
	out := make([]color.NRGBA, 0, n)
	for _, c := range p.Colors() {
		out = append(out, color.NRGBAModel.Convert(c).(color.NRGBA))
	}
	return out
}

// luminance returns the relative luminance of c in [0, 1] (Rec. 709
// weights on the sRGB values, good enough to choose black or white text).
func luminance(c color.NRGBA) float64 {
	return (0.2126*float64(c.R) + 0.7152*float64(c.G) + 0.0722*float64(c.B)) / 255
}

// Colour bar geometry, in points.
const (
	barGap   = 12 // between the plot and the bar
	barWidth = 12
	barPad   = 4 // around tick labels and the bar's label
)

// colorBarTicks returns the labelled ticks of s that fall in its range.
func colorBarTicks(s scale) []plot.Tick {
	var out []plot.Tick
	for _, t := range (linearTicks{}).Ticks(s.lo, s.hi) {
		if t.Value >= s.lo && t.Value <= s.hi {
			out = append(out, t)
		}
	}
	return out
}

// colorBarWidth returns the width of the strip a colour bar for s takes:
// gap, bar, ticks, tick labels and the rotated label.
func colorBarWidth(s scale, label string) vg.Length {
	sty := textStyle(tickSize, color.Black)
	var tw vg.Length
	for _, t := range colorBarTicks(s) {
		if !t.IsMinor() {
			tw = max(tw, sty.Width(formatTick(t.Value)))
		}
	}
	w := barGap + barWidth + 6 + tw + barPad
	if cleanText(label) != "" {
		w += sty.Height(label) + barPad
	}
	return w
}

// drawColorBar draws a vertical colour bar for s in the rectangle r (the
// bar itself) with tick labels to its right and, further right, the label
// turned a quarter counter-clockwise.
func drawColorBar(c draw.Canvas, r vg.Rectangle, s scale, label string) {
	if r.Size().Y <= 0 {
		return
	}
	const n = 256 // colours along the bar
	drawRaster(c, r, 1, n, func(_, row int) color.NRGBA {
		return lerpStops(s.stops, s.frac(s.hi-(float64(row)+0.5)/n*(s.hi-s.lo)))
	})
	line := draw.LineStyle{Color: color.Black, Width: vg.Points(0.5)}
	c.StrokeLines(line, []vg.Point{r.Min, {X: r.Max.X, Y: r.Min.Y}, r.Max, {X: r.Min.X, Y: r.Max.Y}, r.Min})

	sty := textStyle(tickSize, color.Black)
	sty.XAlign, sty.YAlign = draw.XLeft, draw.YCenter
	var tw vg.Length
	for _, t := range colorBarTicks(s) {
		y := r.Min.Y + vg.Length((t.Value-s.lo)/(s.hi-s.lo))*r.Size().Y
		if t.IsMinor() {
			c.StrokeLine2(line, r.Max.X, y, r.Max.X+2, y)
			continue
		}
		c.StrokeLine2(line, r.Max.X, y, r.Max.X+4, y)
		txt := formatTick(t.Value)
		tw = max(tw, sty.Width(txt))
		drawLabel(c, sty, vg.Point{X: r.Max.X + 6, Y: y}, txt)
	}
	if label = cleanText(label); label != "" {
		lsty := textStyle(tickSize, color.Black)
		lsty.Rotation = math.Pi / 2
		lsty.XAlign, lsty.YAlign = draw.XCenter, draw.YTop
		drawLabel(c, lsty, vg.Point{X: r.Max.X + 6 + tw + barPad, Y: (r.Min.Y + r.Max.Y) / 2}, label)
	}
}
