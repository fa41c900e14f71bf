package figures

import (
	"image/color"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Heatmap limits.
const (
	// MaxCells bounds rows × cols of a heatmap (4M cells, 32 MiB of values).
	MaxCells = 1 << 22
	// maxVectorCells is the size above which an SVG gets its cells as one
	// image rather than one rectangle each, which keeps it small.
	maxVectorCells = 64 * 64
)

// HeatmapSpec describes a heatmap: a matrix of values drawn as coloured
// cells with labelled rows and columns and a colour bar.
type HeatmapSpec struct {
	Title          string
	XLabel, YLabel string // axis titles

	// Values is the matrix [rows][cols]. Row 0 is drawn at the top and
	// column 0 at the left, as a matrix is printed. NaN cells are drawn
	// grey; ±Inf take the colour of the range's ends.
	Values [][]float64

	// RowLabels and ColLabels name the rows (left axis) and columns (bottom
	// axis), e.g. tokens; nil labels with indices. Labels are thinned out
	// when there is no room for all of them, and long column labels are
	// turned to read upwards.
	RowLabels, ColLabels []string

	// ColorMap colours the values; Auto means Sequential.
	ColorMap ColorMap
	// Range is the value range of the colour map; the zero Range takes it
	// from the data (for Diverging, symmetric about 0).
	Range Range

	// Mask, nil or shaped like Values, greys out cells where it is true
	// (the upper triangle of a causal attention pattern).
	Mask [][]bool
	// CellText, nil or shaped like Values, is written inside each cell
	// (a logit-lens table's top tokens), black or white for contrast,
	// when the cells are large enough for legible text.
	CellText [][]string

	ColorBarLabel string
	NoColorBar    bool // leave the colour bar out
}

// heatmap is a validated copy of a HeatmapSpec.
type heatmap struct {
	title, xLabel, yLabel string
	rows, cols            int
	values                []float64 // [rows*cols], row-major
	rowLabels, colLabels  []string  // cleaned; nil means indices
	scale                 scale
	mask                  []bool   // [rows*cols] or nil
	text                  []string // [rows*cols] or nil
	barLabel              string
	colorBar              bool
}

// Heatmap validates s and returns its figure. It returns an error matching
// ErrInvalid when Values is empty, ragged or larger than MaxCells, when a
// label, mask or text count does not match the matrix, or when the range is
// not finite with Min < Max.
func Heatmap(s HeatmapSpec) (*Figure, error) {
	h, err := newHeatmap(s)
	if err != nil {
		return nil, err
	}
	cell := clampSize(640/max(h.rows, h.cols), 8, 32)
	w := h.cols*cell + 130
	if h.colorBar {
		w += 80
	}
	return &Figure{
		defW: clampSize(w, 240, 2400),
		defH: clampSize(h.rows*cell+150, 200, 2400),
		draw: h.draw,
	}, nil
}

// AttentionPattern returns the heatmap of one head's attention pattern
// [query_pos, key_pos] (blocks.{l}.attn.hook_pattern for one batch element
// and head): destinations (queries) as rows from the top, sources (keys) as
// columns, both labelled with tokens (nil labels with positions), the
// causal upper triangle (key > query) greyed out and a Sequential colour
// map over [0, 1], as CircuitsVis draws it. The pattern must be square
// with one token per position.
func AttentionPattern(title string, pattern [][]float64, tokens []string) (*Figure, error) {
	s, err := attentionSpec(title, pattern, tokens)
	if err != nil {
		return nil, err
	}
	return Heatmap(s)
}

// attentionSpec returns the HeatmapSpec of an attention pattern.
func attentionSpec(title string, pattern [][]float64, tokens []string) (HeatmapSpec, error) {
	n := len(pattern)
	for q, row := range pattern {
		if len(row) != n {
			return HeatmapSpec{}, invalidf("attention pattern: row %d has %d keys, want %d (square [query_pos, key_pos])", q, len(row), n)
		}
	}
	if tokens != nil && len(tokens) != n {
		return HeatmapSpec{}, invalidf("attention pattern: %d tokens for %d positions", len(tokens), n)
	}
	mask := make([][]bool, n)
	for q := range mask {
		mask[q] = make([]bool, n)
		for k := q + 1; k < n; k++ {
			mask[q][k] = true
		}
	}
	return HeatmapSpec{
		Title:         title,
		XLabel:        "source (key)",
		YLabel:        "destination (query)",
		Values:        pattern,
		RowLabels:     tokens,
		ColLabels:     tokens,
		ColorMap:      Sequential,
		Range:         Range{0, 1},
		Mask:          mask,
		ColorBarLabel: "attention",
	}, nil
}

// newHeatmap validates s and copies it.
func newHeatmap(s HeatmapSpec) (*heatmap, error) {
	rows := len(s.Values)
	if rows == 0 || len(s.Values[0]) == 0 {
		return nil, invalidf("heatmap: empty matrix")
	}
	cols := len(s.Values[0])
	if rows > MaxCells/cols {
		return nil, invalidf("heatmap: %d×%d cells, want at most %d", rows, cols, MaxCells)
	}
	h := &heatmap{
		title: s.Title, xLabel: s.XLabel, yLabel: s.YLabel,
		rows: rows, cols: cols,
		values:   make([]float64, 0, rows*cols),
		barLabel: s.ColorBarLabel,
		colorBar: !s.NoColorBar,
	}
	for r, row := range s.Values {
		if len(row) != cols {
			return nil, invalidf("heatmap: row %d has %d values, want %d", r, len(row), cols)
		}
		h.values = append(h.values, row...)
	}
	var err error
	if h.rowLabels, err = copyLabels("heatmap: row labels", s.RowLabels, rows); err != nil {
		return nil, err
	}
	if h.colLabels, err = copyLabels("heatmap: column labels", s.ColLabels, cols); err != nil {
		return nil, err
	}
	if s.Mask != nil {
		if h.mask, err = flatten("heatmap: mask", s.Mask, rows, cols); err != nil {
			return nil, err
		}
	}
	if s.CellText != nil {
		if h.text, err = flatten("heatmap: cell text", s.CellText, rows, cols); err != nil {
			return nil, err
		}
		for i, t := range h.text {
			h.text[i] = cleanLabel(t)
		}
	}
	if s.ColorMap < Auto || s.ColorMap > Grey {
		return nil, invalidf("heatmap: unknown %v", s.ColorMap)
	}
	h.scale, err = newScale(s.ColorMap, s.Range, func(yield func(float64) bool) {
		for i, v := range h.values {
			if h.masked(i) {
				continue
			}
			if !yield(v) {
				return
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return h, nil
}

// copyLabels checks that labels is nil or has n entries and returns them
// cleaned for drawing.
func copyLabels(what string, labels []string, n int) ([]string, error) {
	if labels == nil {
		return nil, nil
	}
	if len(labels) != n {
		return nil, invalidf("%s: %d labels for %d entries", what, len(labels), n)
	}
	out := make([]string, n)
	for i, l := range labels {
		out[i] = cleanLabel(l)
	}
	return out, nil
}

// flatten checks that m is rows × cols and copies it row-major.
func flatten[T any](what string, m [][]T, rows, cols int) ([]T, error) {
	if len(m) != rows {
		return nil, invalidf("%s has %d rows, want %d", what, len(m), rows)
	}
	out := make([]T, 0, rows*cols)
	for r, row := range m {
		if len(row) != cols {
			return nil, invalidf("%s: row %d has %d entries, want %d", what, r, len(row), cols)
		}
		out = append(out, row...)
	}
	return out, nil
}

// masked reports whether cell i (row-major) is masked.
func (h *heatmap) masked(i int) bool { return h.mask != nil && h.mask[i] }

// cellColor returns the colour of cell (row, col).
func (h *heatmap) cellColor(row, col int) color.NRGBA {
	i := row*h.cols + col
	if h.masked(i) {
		return maskColor
	}
	return h.scale.color(h.values[i])
}

// draw draws the heatmap into c: the plot, then the colour bar beside the
// plot's data area.
func (h *heatmap) draw(c draw.Canvas) {
	p, area := h.layout(c)
	p.Draw(area)
	if h.colorBar {
		dc := p.DataCanvas(area)
		x := area.Max.X + barGap
		r := vg.Rectangle{Min: vg.Point{X: x, Y: dc.Min.Y}, Max: vg.Point{X: x + barWidth, Y: dc.Max.Y}}
		drawColorBar(c, r, h.scale, h.barLabel)
	}
}

// layout returns the heatmap's plot and the part of c it is drawn in, the
// rest being the colour bar's.
func (h *heatmap) layout(c draw.Canvas) (*plot.Plot, draw.Canvas) {
	area := c
	if h.colorBar {
		area.Max.X -= colorBarWidth(h.scale, h.barLabel)
	}
	p := newPlot(h.title, h.xLabel, h.yLabel)
	p.X.Min, p.X.Max = -0.5, float64(h.cols)-0.5
	p.Y.Min, p.Y.Max = -0.5, float64(h.rows)-0.5
	p.X.Padding, p.Y.Padding = 0, 0

	// Cell sizes are estimated before layout, leaving room for the title,
	// axis titles and labels; they decide label sizes and thinning.
	size := area.Size()
	cellW := max(1, size.X-90) / vg.Length(h.cols)
	cellH := max(1, size.Y-90) / vg.Length(h.rows)
	p.Y.Tick.Label.Font.Size, p.Y.Tick.Marker = axisTicks(h.rowLabels, h.rows, cellH, true)
	p.X.Tick.Label.Font.Size, p.X.Tick.Marker = axisTicks(h.colLabels, h.cols, cellW, false)
	turnCrowdedLabels(&p.X, cellW)
	p.Add(cellPlotter{h})
	return p, area
}

// axisTicks returns the tick font size and ticks for n cells of the given
// size along an axis: labels (or indices when nil) at cell centres, every
// k-th when they would otherwise be smaller than minTextSize. A vertical
// axis lists cell 0 at the top.
func axisTicks(labels []string, n int, cell vg.Length, vertical bool) (vg.Length, plot.Ticker) {
	size := max(minTextSize, min(tickSize, 0.85*cell))
	step := labelStep(n, cell*vg.Length(n), size/0.85)
	if labels == nil {
		// Indices: full size, a round step, room for the widest number.
		size = tickSize
		need := size * 1.4
		if !vertical {
			need = size * (0.6*vg.Length(len(strconv.Itoa(n-1))) + 1.2)
		}
		step = niceStep(labelStep(n, cell*vg.Length(n), need))
	}
	ticks := make(plot.ConstantTicks, 0, n/step+1)
	for i := 0; i < n; i += step {
		label := strconv.Itoa(i)
		if labels != nil {
			label = labels[i]
		}
		pos := float64(i)
		if vertical {
			pos = float64(n - 1 - i)
		}
		ticks = append(ticks, plot.Tick{Value: pos, Label: label})
	}
	return size, ticks
}

// niceStep rounds k up to 1, 2 or 5 times a power of ten.
func niceStep(k int) int {
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			if m*p >= k {
				return m * p
			}
		}
	}
}

// cellPlotter draws a heatmap's cells and cell text in the plot's data
// area, implementing plot.Plotter.
type cellPlotter struct{ h *heatmap }

// Plot draws the cells.
func (cp cellPlotter) Plot(c draw.Canvas, p *plot.Plot) {
	h := cp.h
	trX, trY := p.Transforms(&c)
	// x0(col) is the left edge of column col and yTop(row) the top edge of
	// row row, in points; col+1 and row+1 give the other edges.
	x0 := func(col int) vg.Length { return trX(float64(col) - 0.5) }
	yTop := func(row int) vg.Length { return trY(float64(h.rows-row) - 0.5) }

	// A raster back end gets the cells as one image: filling each cell as
	// an anti-aliased path costs far more and looks the same in pixels.
	if _, raster := rasterTarget(c.Canvas); raster || h.rows*h.cols > maxVectorCells {
		r := vg.Rectangle{Min: vg.Point{X: x0(0), Y: yTop(h.rows)}, Max: vg.Point{X: x0(h.cols), Y: yTop(0)}}
		drawRaster(c, r, h.cols, h.rows, func(col, row int) color.NRGBA { return h.cellColor(row, col) })
	} else {
		// Each cell overlaps its right and lower neighbours by half a
		// pixel, which they paint over, so anti-aliasing leaves no seams.
		const overlap = vg.Length(0.5 * 72 / dpi)
		var path vg.Path
		for row := range h.rows {
			for col := range h.cols {
				l, r := x0(col), x0(col+1)
				t, b := yTop(row), yTop(row+1)
				if col < h.cols-1 {
					r += overlap
				}
				if row < h.rows-1 {
					b -= overlap
				}
				path = path[:0]
				path.Move(vg.Point{X: l, Y: b})
				path.Line(vg.Point{X: r, Y: b})
				path.Line(vg.Point{X: r, Y: t})
				path.Line(vg.Point{X: l, Y: t})
				path.Close()
				c.SetColor(h.cellColor(row, col))
				c.Fill(path)
			}
		}
	}
	if h.text != nil {
		cellW := x0(1) - x0(0)
		cellH := yTop(0) - yTop(1)
		h.drawCellText(c, cellW, cellH, x0, yTop)
	}
}

// drawCellText writes each cell's text at its centre, in one size chosen
// so the widest text fits its cell; nothing when that size is below
// minTextSize.
func (h *heatmap) drawCellText(c draw.Canvas, cellW, cellH vg.Length, x0, yTop func(int) vg.Length) {
	size := min(tickSize, 0.6*cellH)
	if size < minTextSize || cellW < minTextSize/2 { // no room for a character
		return
	}
	sty := textStyle(10, color.Black)
	var widest vg.Length // at 10pt
	for _, t := range h.text {
		widest = max(widest, sty.Width(t))
	}
	if widest > 0 {
		size = min(size, 0.9*cellW*10/widest)
	}
	if size < minTextSize {
		return
	}
	sty.Font.Size = size
	sty.XAlign, sty.YAlign = draw.XCenter, draw.YCenter
	for row := range h.rows {
		for col := range h.cols {
			t := h.text[row*h.cols+col]
			if t == "" {
				continue
			}
			sty.Color = color.Black
			if luminance(h.cellColor(row, col)) < 0.5 {
				sty.Color = color.White
			}
			pt := vg.Point{X: x0(col) + cellW/2, Y: yTop(row) - cellH/2}
			c.FillText(sty, pt, t)
		}
	}
}
