package figures

import (
	"image/color"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Font sizes in points.
const (
	titleSize = 12
	labelSize = 10
	tickSize  = 9
	// minTextSize is the smallest text drawn; labels that would need less
	// are thinned out (axes) or left out (cell text).
	minTextSize = 5
)

// maxLabelRunes is the length past which labels are cut with an ellipsis.
const maxLabelRunes = 32

// maskColor fills masked cells and NaN values.
var maskColor = color.NRGBA{R: 0xd4, G: 0xd4, B: 0xd4, A: 0xff}

// sans returns the embedded Liberation Sans font at the given size.
func sans(size vg.Length) font.Font {
	return font.Font{Typeface: "Liberation", Variant: "Sans", Size: size}
}

// textStyle returns a plain-text style in Liberation Sans.
func textStyle(size vg.Length, c color.Color) text.Style {
	return text.Style{Color: c, Font: sans(size), Handler: plot.DefaultTextHandler}
}

// newPlot returns a plot with the figures' fonts and the given title and
// axis labels (cleaned of control characters).
func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.BackgroundColor = nil // the figure's background is already white
	p.Title.Text = cleanText(title)
	p.Title.TextStyle.Font = sans(titleSize)
	p.Title.Padding = vg.Points(6)
	p.X.Label.Text = cleanText(xLabel)
	p.Y.Label.Text = cleanText(yLabel)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = sans(labelSize)
		a.Tick.Label.Font = sans(tickSize)
		a.Tick.Length = vg.Points(4)
	}
	return p
}

// cleanText makes s safe to draw and to put in XML: invalid UTF-8 becomes
// U+FFFD and control characters (newlines in tokens, NUL, …) are shown as
// Go escapes such as \n, so a token is never invisible or breaks the SVG.
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if !strings.ContainsFunc(s, unprintable) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case unprintable(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// unprintable reports whether r is a control character or a non-character
// that XML 1.0 does not allow.
func unprintable(r rune) bool {
	return unicode.IsControl(r) || r == 0xFFFE || r == 0xFFFF
}

// cleanLabel is cleanText for tick labels, cut to maxLabelRunes.
func cleanLabel(s string) string {
	s = cleanText(s)
	if utf8.RuneCountInString(s) <= maxLabelRunes {
		return s
	}
	r := []rune(s)
	return string(r[:maxLabelRunes-1]) + "…"
}

// seriesColor returns the i-th colour of the Tableau 10 qualitative palette
// (matplotlib's default cycle), cycling after ten.
func seriesColor(i int) color.NRGBA {
	tab10 := [...]uint32{
		0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd,
		0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf,
	}
	v := tab10[i%len(tab10)]
	return color.NRGBA{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v), A: 0xff}
}

// formatTick formats a tick value compactly: 0.001, 250, 1e+06 → 1e6.
func formatTick(v float64) string {
	if v == 0 {
		return "0"
	}
	s := strconv.FormatFloat(v, 'g', 4, 64)
	s = strings.Replace(s, "e+0", "e", 1)
	s = strings.Replace(s, "e+", "e", 1)
	s = strings.Replace(s, "e-0", "e-", 1)
	return s
}

// checkFinite returns an error naming what when v is NaN or infinite.
func checkFinite(what string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return invalidf("%s is %v, want a finite number", what, v)
	}
	return nil
}

// clampSize bounds a default size in pixels.
func clampSize(v, lo, hi int) int { return max(lo, min(hi, v)) }

// labelStep returns k ≥ 1 such that drawing every k-th of n labels, each
// needing need points, fits in space points.
func labelStep(n int, space, need vg.Length) int {
	if n <= 0 || space <= 0 {
		return 1
	}
	k := int(math.Ceil(float64(need) * float64(n) / float64(space)))
	return max(1, k)
}

// drawLabel draws txt at pt with the given style, for labels placed by hand
// (markers, colour bars, image captions).
func drawLabel(c draw.Canvas, sty text.Style, pt vg.Point, txt string) {
	if txt == "" {
		return
	}
	c.FillText(sty, pt, txt)
}

// backdrop is the translucent white behind legends and marker labels.
var backdrop = color.NRGBA{R: 0xff, G: 0xff, B: 0xff, A: 0xd8}

// fillRect fills r with col.
func fillRect(c draw.Canvas, r vg.Rectangle, col color.Color) {
	c.FillPolygon(col, []vg.Point{r.Min, {X: r.Max.X, Y: r.Min.Y}, r.Max, {X: r.Min.X, Y: r.Max.Y}})
}

// drawLabelOnBackdrop is drawLabel over a translucent white box, for labels
// that sit on top of data.
func drawLabelOnBackdrop(c draw.Canvas, sty text.Style, pt vg.Point, txt string) {
	if txt == "" {
		return
	}
	r := sty.Rectangle(txt).Add(pt)
	fillRect(c, vg.Rectangle{Min: r.Min.Sub(vg.Point{X: 1, Y: 1}), Max: r.Max.Add(vg.Point{X: 1, Y: 1})}, backdrop)
	c.FillText(sty, pt, txt)
}

// legendGap is the space between one legend entry's descenders and the
// next entry's capitals.
const legendGap = vg.Length(2.5)

// legend collects named entries and draws them in a corner of the data
// area over a translucent white box (plot.Legend draws on the data without
// one).
type legend struct {
	names        []string
	thumbs       []plot.Thumbnailer
	left, bottom bool
}

// add adds an entry; an empty name adds nothing.
func (lg *legend) add(name string, t plot.Thumbnailer) {
	if name = cleanText(name); name != "" {
		lg.names = append(lg.names, name)
		lg.thumbs = append(lg.thumbs, t)
	}
}

// draw draws the legend inside the data area dc.
func (lg *legend) draw(dc draw.Canvas) {
	if len(lg.names) == 0 {
		return
	}
	const inset, pad = vg.Length(6), vg.Length(3)
	l := plot.NewLegend()
	l.TextStyle.Font = sans(tickSize)
	l.ThumbnailWidth = vg.Points(16)
	// Entries are spaced by the text's height above the baseline: add the
	// descent, so that descenders clear the next entry, and a gap.
	l.Padding = l.TextStyle.FontExtents().Descent + legendGap
	l.Left, l.Top = lg.left, !lg.bottom
	c := dc
	c.Min.X += inset
	c.Max.X -= inset
	c.Min.Y += inset
	c.Max.Y -= inset

	var width, height vg.Length
	for i, name := range lg.names {
		l.Add(name, lg.thumbs[i])
		width = max(width, l.ThumbnailWidth+l.TextStyle.Width(" "+name))
		height += l.TextStyle.Rectangle(name).Max.Y
	}
	height += l.TextStyle.FontExtents().Descent + l.Padding*vg.Length(len(lg.names)-1)
	r := vg.Rectangle{Min: vg.Point{X: c.Max.X - width, Y: c.Max.Y - height}, Max: c.Max}
	if lg.left {
		r.Min.X, r.Max.X = c.Min.X, c.Min.X+width
	}
	if lg.bottom {
		r.Min.Y, r.Max.Y = c.Min.Y, c.Min.Y+height
	}
	fillRect(dc, vg.Rectangle{Min: r.Min.Sub(vg.Point{X: pad, Y: pad}), Max: r.Max.Add(vg.Point{X: pad, Y: pad})}, backdrop)
	l.Draw(c)
}
