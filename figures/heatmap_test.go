package figures

import (
	"errors"
	"image"
	"image/color"
	"math"
	"testing"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// dataRect returns the pixel rectangle of h's cells in a w × hh render.
func dataRect(t *testing.T, h *heatmap, w, hh int) image.Rectangle {
	t.Helper()
	c := draw.New(vgimg.NewWith(vgimg.UseImage(image.NewRGBA(image.Rect(0, 0, w, hh))), vgimg.UseDPI(dpi)))
	p, area := h.layout(c)
	r := p.DataCanvas(area).Rectangle
	px := func(l vg.Length) int { return int(math.Round(float64(l.Dots(dpi)))) }
	return image.Rect(px(r.Min.X), hh-px(r.Max.Y), px(r.Max.X), hh-px(r.Min.Y))
}

// cellCenter returns the pixel at the centre of cell (row, col) of a
// rows × cols grid drawn in r.
func cellCenter(r image.Rectangle, rows, cols, row, col int) image.Point {
	return image.Pt(
		r.Min.X+int((float64(col)+0.5)*float64(r.Dx())/float64(cols)),
		r.Min.Y+int((float64(row)+0.5)*float64(r.Dy())/float64(rows)),
	)
}

func TestHeatmapHotCellPosition(t *testing.T) {
	const rows, cols, w, h = 3, 4, 400, 300
	for _, hot := range []image.Point{{0, 0}, {3, 0}, {0, 2}, {2, 1}} { // (col, row)
		for _, bar := range []bool{false, true} {
			values := make([][]float64, rows)
			for r := range values {
				values[r] = make([]float64, cols)
			}
			values[hot.Y][hot.X] = 1
			spec := HeatmapSpec{Values: values, NoColorBar: !bar, Title: "hot"}
			f, err := Heatmap(spec)
			if err != nil {
				t.Fatal(err)
			}
			hm, _ := newHeatmap(spec)
			img := renderPNG(t, f, w, h)
			grid := dataRect(t, hm, w, h)
			cold, warm := hm.scale.color(0), hm.scale.color(1)
			for row := range rows {
				for col := range cols {
					want := cold
					if row == hot.Y && col == hot.X {
						want = warm
					}
					pt := cellCenter(grid, rows, cols, row, col)
					if got := img.At(pt.X, pt.Y); !sameColor(got, want) {
						t.Errorf("hot cell row %d col %d, colour bar %v: pixel %v of cell (%d, %d) is %v, want %v",
							hot.Y, hot.X, bar, pt, row, col, got, want)
					}
				}
			}
			// The hot colour's pixels inside the grid are exactly the hot cell.
			inGrid := func(c color.Color) bool { return sameColor(c, warm) }
			box, _ := bbox(img.(interface {
				image.Image
				SubImage(image.Rectangle) image.Image
			}).SubImage(grid), inGrid)
			cx, cy := (box.Min.X+box.Max.X)/2, (box.Min.Y+box.Max.Y)/2
			if got := cellCenter(grid, rows, cols, hot.Y, hot.X); abs(got.X-cx) > 2 || abs(got.Y-cy) > 2 {
				t.Errorf("hot cell (%d, %d): hot pixels centred at (%d, %d), want (%d, %d)", hot.Y, hot.X, cx, cy, got.X, got.Y)
			}
			// The colour bar, right of the grid, runs from cold (bottom) to hot (top).
			if bar {
				x := grid.Max.X + int(float64((barGap+barWidth/2)*dpi/72))
				top, bottom := img.At(x, grid.Min.Y+2), img.At(x, grid.Max.Y-3)
				if !near(top, warm, 6) || !near(bottom, cold, 6) {
					t.Errorf("colour bar at x=%d: top %v, bottom %v; want near %v and %v", x, top, bottom, warm, cold)
				}
			}
		}
	}
}

func abs(x int) int { return max(x, -x) }

func TestHeatmapRasterMatchesOrientation(t *testing.T) {
	// Above maxVectorCells cells are drawn as one image: row 0 must still be
	// at the top.
	const n = 70
	values := make([][]float64, n)
	for r := range values {
		values[r] = make([]float64, n)
	}
	values[0][n-1] = 1 // top right
	spec := HeatmapSpec{Values: values, NoColorBar: true}
	f, err := Heatmap(spec)
	if err != nil {
		t.Fatal(err)
	}
	hm, _ := newHeatmap(spec)
	const w, h = 700, 700
	img := renderPNG(t, f, w, h)
	grid := dataRect(t, hm, w, h)
	for _, tc := range []struct {
		row, col int
		want     color.NRGBA
	}{{0, n - 1, hm.scale.color(1)}, {n - 1, 0, hm.scale.color(0)}, {n - 1, n - 1, hm.scale.color(0)}} {
		pt := cellCenter(grid, n, n, tc.row, tc.col)
		if got := img.At(pt.X, pt.Y); !near(got, tc.want, 2) {
			t.Errorf("cell (%d, %d) at %v: %v, want %v", tc.row, tc.col, pt, got, tc.want)
		}
	}
}

func TestAttentionPatternMask(t *testing.T) {
	const n, w, h = 4, 400, 400
	pattern := make([][]float64, n)
	for q := range pattern {
		pattern[q] = make([]float64, n)
		for k := 0; k <= q; k++ {
			pattern[q][k] = 1 / float64(q+1)
		}
	}
	tokens := []string{"a", "b", "c", "d"}
	f, err := AttentionPattern("head", pattern, tokens)
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := attentionSpec("head", pattern, tokens)
	hm, _ := newHeatmap(spec)
	img := renderPNG(t, f, w, h)
	grid := dataRect(t, hm, w, h)
	for q := range n {
		for k := range n {
			want := hm.scale.color(pattern[q][k])
			if k > q {
				want = maskColor
			}
			pt := cellCenter(grid, n, n, q, k)
			if got := img.At(pt.X, pt.Y); !sameColor(got, want) {
				t.Errorf("query %d key %d at %v: %v, want %v", q, k, pt, got, want)
			}
		}
	}
	if hm.scale.lo != 0 || hm.scale.hi != 1 {
		t.Errorf("attention range [%v, %v], want [0, 1]", hm.scale.lo, hm.scale.hi)
	}
}

func TestHeatmapEdgeCases(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	for _, tc := range []struct {
		name string
		spec HeatmapSpec
	}{
		{"1x1", HeatmapSpec{Values: [][]float64{{3}}}},
		{"constant", HeatmapSpec{Values: [][]float64{{2, 2}, {2, 2}}}},
		{"all NaN", HeatmapSpec{Values: [][]float64{{nan, nan}}}},
		{"infinities", HeatmapSpec{Values: [][]float64{{inf, -inf, 1}}, ColorMap: Diverging}},
		{"all masked", HeatmapSpec{Values: [][]float64{{1}}, Mask: [][]bool{{true}}}},
		{"zeros diverging", HeatmapSpec{Values: [][]float64{{0, 0}}, ColorMap: Diverging}},
		{"huge", HeatmapSpec{Values: [][]float64{{-1e300, 1e300}}}},
		{"tiny range", HeatmapSpec{Values: [][]float64{{1, 1 + 1e-15}}}},
		{"long labels", HeatmapSpec{Values: [][]float64{{1, 2}}, ColLabels: []string{string(make([]byte, 200)), "\xff\xfe"}, RowLabels: []string{"\u202e"}}},
		{"tall", HeatmapSpec{Values: make2(300, 1)}},
		{"wide", HeatmapSpec{Values: make2(1, 300)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Heatmap(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			renderExtremes(t, f)
		})
	}
}

// make2 returns a rows × cols matrix of increasing values.
func make2(rows, cols int) [][]float64 {
	m := make([][]float64, rows)
	for r := range m {
		m[r] = make([]float64, cols)
		for c := range m[r] {
			m[r][c] = float64(r*cols + c)
		}
	}
	return m
}

func TestHeatmapErrors(t *testing.T) {
	ok := [][]float64{{1, 2}, {3, 4}}
	for _, tc := range []struct {
		name string
		spec HeatmapSpec
	}{
		{"nil", HeatmapSpec{}},
		{"empty row", HeatmapSpec{Values: [][]float64{{}}}},
		{"ragged", HeatmapSpec{Values: [][]float64{{1, 2}, {3}}}},
		{"row labels", HeatmapSpec{Values: ok, RowLabels: []string{"a"}}},
		{"col labels", HeatmapSpec{Values: ok, ColLabels: []string{"a", "b", "c"}}},
		{"mask rows", HeatmapSpec{Values: ok, Mask: [][]bool{{true, false}}}},
		{"mask ragged", HeatmapSpec{Values: ok, Mask: [][]bool{{true, false}, {true}}}},
		{"text", HeatmapSpec{Values: ok, CellText: [][]string{{"a", "b"}, {"c", "d", "e"}}}},
		{"NaN range", HeatmapSpec{Values: ok, Range: Range{math.NaN(), 1}}},
		{"Inf range", HeatmapSpec{Values: ok, Range: Range{0, math.Inf(1)}}},
		{"empty range", HeatmapSpec{Values: ok, Range: Range{1, 1}}},
		{"reversed range", HeatmapSpec{Values: ok, Range: Range{2, 1}}},
		{"too wide range", HeatmapSpec{Values: ok, Range: Range{-math.MaxFloat64, math.MaxFloat64}}},
		{"too wide data", HeatmapSpec{Values: [][]float64{{-math.MaxFloat64, math.MaxFloat64}}}},
		{"colour map", HeatmapSpec{Values: ok, ColorMap: ColorMap(42)}},
		{"too many cells", HeatmapSpec{Values: make([][]float64, MaxCells/1024+1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "too many cells" {
				row := make([]float64, 1024)
				for i := range tc.spec.Values {
					tc.spec.Values[i] = row
				}
			}
			f, err := Heatmap(tc.spec)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Heatmap(%s) = %v, %v; want an ErrInvalid error", tc.name, f, err)
			}
		})
	}
	for _, tc := range []struct {
		name    string
		pattern [][]float64
		tokens  []string
	}{
		{"not square", [][]float64{{1, 0}}, nil},
		{"ragged", [][]float64{{1, 0}, {1}}, nil},
		{"tokens", [][]float64{{1}}, []string{"a", "b"}},
		{"empty", nil, nil},
	} {
		if _, err := AttentionPattern("x", tc.pattern, tc.tokens); !errors.Is(err, ErrInvalid) {
			t.Errorf("AttentionPattern(%s): %v, want ErrInvalid", tc.name, err)
		}
	}
}

func TestHeatmapCopiesInput(t *testing.T) {
	values := [][]float64{{0, 1}}
	labels := []string{"a", "b"}
	f, err := Heatmap(HeatmapSpec{Values: values, ColLabels: labels})
	if err != nil {
		t.Fatal(err)
	}
	before := renderSVG(t, f, 300, 200)
	values[0][0], labels[0] = 7, "changed"
	if after := renderSVG(t, f, 300, 200); after != before {
		t.Errorf("changing the input after Heatmap changed the figure")
	}
}

func TestAxisTicks(t *testing.T) {
	for _, tc := range []struct {
		labels   []string
		n        int
		cell     vg.Length
		vertical bool
		want     []float64 // tick positions
		wantLbl  []string
	}{
		{[]string{"a", "b", "c"}, 3, 20, true, []float64{2, 1, 0}, []string{"a", "b", "c"}},
		{[]string{"a", "b", "c"}, 3, 20, false, []float64{0, 1, 2}, []string{"a", "b", "c"}},
		{nil, 100, 2, false, []float64{0, 20, 40, 60, 80}, []string{"0", "20", "40", "60", "80"}},
		{[]string{"a", "b", "c", "d"}, 4, 3, false, []float64{0, 2}, []string{"a", "c"}},
	} {
		_, tk := axisTicks(tc.labels, tc.n, tc.cell, tc.vertical)
		ts := tk.Ticks(0, 0)
		if len(ts) != len(tc.want) {
			t.Errorf("axisTicks(%v, %d, %v, %v): %d ticks %v, want %v", tc.labels, tc.n, tc.cell, tc.vertical, len(ts), ts, tc.want)
			continue
		}
		for i, tick := range ts {
			if tick.Value != tc.want[i] || tick.Label != tc.wantLbl[i] {
				t.Errorf("axisTicks(%v, %d, %v, %v) tick %d = %v %q, want %v %q", tc.labels, tc.n, tc.cell, tc.vertical, i, tick.Value, tick.Label, tc.want[i], tc.wantLbl[i])
			}
		}
	}
}
