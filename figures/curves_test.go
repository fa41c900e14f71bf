package figures

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"math"
	"strings"
	"testing"
)

// markerColumns returns the x centres of the vertical dashed marker lines
// in img: runs of columns where dark grey pixels (marker lines, even where
// anti-aliasing splits them over two columns, but not the light grid)
// cover between a quarter and 70% of the height, as dashes do; the solid
// axis line covers more.
func markerColumns(img image.Image) []float64 {
	b := img.Bounds()
	isLine := func(x int) bool {
		n := 0
		for y := b.Min.Y; y < b.Max.Y; y++ {
			g := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			if g.R == g.G && g.G == g.B && g.R < 0xa0 { // darker than grid lines
				n++
			}
		}
		return n > b.Dy()/4 && n < b.Dy()*7/10 // dashed, unlike the axis line
	}
	var out []float64
	start := -1
	for x := b.Min.X; x <= b.Max.X; x++ {
		if x < b.Max.X && isLine(x) {
			if start < 0 {
				start = x
			}
			continue
		}
		if start >= 0 {
			out = append(out, float64(start+x-1)/2)
			start = -1
		}
	}
	return out
}

func TestCurvesMarkerPositions(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec CurvesSpec
	}{
		{"linear", CurvesSpec{
			Series: []Series{{Name: "s", X: []float64{0, 10}, Y: []float64{1, 2}}},
			VLines: []Marker{{At: 2}, {At: 5}, {At: 8}},
		}},
		{"log x", CurvesSpec{
			LogX:   true,
			Series: []Series{{Name: "s", X: []float64{0, 0.5, 2000}, Y: []float64{1, 1, 2}}}, // x=0 is left out
			VLines: []Marker{{At: 1}, {At: 10}, {At: 100}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Curves(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			img := renderPNG(t, f, 600, 300)
			cols := markerColumns(img)
			if len(cols) != 3 {
				t.Fatalf("found marker lines at %v, want 3", cols)
			}
			// Equal steps in data (or in log data) are equal steps in pixels.
			if d1, d2 := cols[1]-cols[0], cols[2]-cols[1]; d1 < 50 || math.Abs(d1-d2) > 1.5 {
				t.Errorf("marker lines at %v: steps %v and %v, want equal", cols, d1, d2)
			}
		})
	}
}

func TestCurvesSeriesDrawn(t *testing.T) {
	f, err := Curves(CurvesSpec{
		Title:  "two",
		LogY:   true,
		Series: []Series{{Name: "a", Y: []float64{1, 10, 100}}, {Name: "b", Y: []float64{100, math.NaN(), -1, 0, 10, 1}}},
		HLines: []Marker{{At: 5, Label: "five"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	img := renderPNG(t, f, 500, 300)
	for i := range 2 {
		if _, n := bbox(img, func(c color.Color) bool { return sameColor(c, seriesColor(i)) }); n < 50 {
			t.Errorf("series %d: %d pixels of its colour, want a drawn line", i, n)
		}
	}
	doc := renderSVG(t, f, 500, 300)
	for _, want := range []string{">a<", ">b<", ">five<", ">10<", ">100<"} {
		if !strings.Contains(doc, want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
}

func TestCurvesDegenerate(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		name string
		spec CurvesSpec
	}{
		{"no series", CurvesSpec{}},
		{"empty series", CurvesSpec{Series: []Series{{Name: "empty"}}, LogX: true, LogY: true}},
		{"all NaN", CurvesSpec{Series: []Series{{Name: "nan", Y: []float64{nan, nan}}}}},
		{"all non-positive on log", CurvesSpec{LogY: true, Series: []Series{{Y: []float64{0, -1}}}}},
		{"one point", CurvesSpec{LogX: true, LogY: true, Series: []Series{{Y: []float64{0, 5}}}}},
		{"constant", CurvesSpec{Series: []Series{{Y: []float64{3, 3, 3}}}}},
		{"huge", CurvesSpec{Series: []Series{{Y: []float64{-1e308, 1e308}}}}},
		{"narrow", CurvesSpec{Series: []Series{{Y: []float64{1, 1 + 1e-15}}}}},
		{"y range", CurvesSpec{YRange: Range{0, 1}, Series: []Series{{Y: []float64{-5, 0.5, 5}}}}},
		{"legend corners", CurvesSpec{LegendLeft: true, LegendBottom: true, Series: []Series{{Name: "x", Y: []float64{1, 2}}}}},
		{"marker only", CurvesSpec{VLines: []Marker{{At: 3, Label: "m"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Curves(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			renderExtremes(t, f)
		})
	}
}

func TestCurvesErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec CurvesSpec
	}{
		{"length", CurvesSpec{Series: []Series{{X: []float64{1, 2}, Y: []float64{1}}}}},
		{"NaN marker", CurvesSpec{VLines: []Marker{{At: math.NaN()}}}},
		{"Inf marker", CurvesSpec{HLines: []Marker{{At: math.Inf(-1)}}}},
		{"log marker", CurvesSpec{LogX: true, VLines: []Marker{{At: 0}}}},
		{"y range", CurvesSpec{YRange: Range{1, 0}}},
		{"log y range", CurvesSpec{LogY: true, YRange: Range{0, 1}}},
	} {
		if _, err := Curves(tc.spec); !errors.Is(err, ErrInvalid) {
			t.Errorf("Curves(%s): %v, want ErrInvalid", tc.name, err)
		}
	}
}

func TestLogTicks(t *testing.T) {
	labels := func(lo, hi float64) []string {
		var out []string
		for _, tk := range (logTicks{}).Ticks(lo, hi) {
			if tk.Label != "" {
				out = append(out, tk.Label)
			}
		}
		return out
	}
	for _, tc := range []struct {
		lo, hi float64
		want   string
	}{
		{1, 1e4, "1 10 100 1000 1e4"},
		{1, 100, "1 2 5 10 20 50 100"},
		{2, 9, "2 3 4 5 6 7 8 9"},
		{0.001, 0.05, "0.001 0.002 0.005 0.01 0.02 0.05"},
		{0, 10, ""},
		{5, 1, ""},
	} {
		if got := strings.Join(labels(tc.lo, tc.hi), " "); got != tc.want {
			t.Errorf("logTicks(%v, %v) labels %q, want %q", tc.lo, tc.hi, got, tc.want)
		}
	}
}

// TestCurvesYRangeHolds: an explicit YRange is the axis even when a series
// leaves it (the part outside is clipped). A constant 0.5 series on the range
// [0, 1] must be drawn near mid-height, not squashed to the bottom by a
// second series at 100.
func TestCurvesYRangeHolds(t *testing.T) {
	fig, err := Curves(CurvesSpec{
		Series: []Series{{Name: "half", Y: []float64{0.5, 0.5, 0.5}}, {Name: "far", Y: []float64{100, 100, 100}}},
		YRange: Range{Min: 0, Max: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	img, err := fig.Image(400, 400)
	if err != nil {
		t.Fatal(err)
	}
	want := seriesColor(0)
	var rows, n int
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X + b.Dx()/3; x < b.Max.X-b.Dx()/3; x++ {
			r, g, bb, _ := img.At(x, y).RGBA()
			if uint8(r>>8) == want.R && uint8(g>>8) == want.G && uint8(bb>>8) == want.B {
				rows += y
				n++
			}
		}
	}
	if n == 0 {
		t.Fatal("the 0.5 series is not drawn")
	}
	mean := float64(rows) / float64(n) / float64(b.Dy())
	if mean < 0.3 || mean > 0.6 {
		t.Errorf("the 0.5 series is drawn at %.2f of the height; want near the middle (YRange ignored?)", mean)
	}
}

// TestCurvesExtremeValues draws curves whose values reach float64's
// limits on log and linear axes: no panic, and every axis range the
// drawing uses is finite, ordered, positive on a log axis, and holds the
// data.
func TestCurvesExtremeValues(t *testing.T) {
	for _, ys := range [][]float64{
		{1e308}, {math.MaxFloat64}, {1e308, 1e307}, {1.7e308, 1.79e308}, {1e308, 1e308 * (1 + 1e-12)},
		{1, 1e308}, {1e-308, 1e308}, {5e-324}, {5e-324, 1}, {-math.MaxFloat64, math.MaxFloat64}, {-math.MaxFloat64},
	} {
		for _, log := range []bool{true, false} {
			name := fmt.Sprintf("%v log=%v", ys, log)
			lo, hi := math.Inf(1), math.Inf(-1)
			for _, y := range ys {
				if !log || y > 0 {
					lo, hi = min(lo, y), max(hi, y)
				}
			}
			rlo, rhi := linearRange(lo, hi)
			if log {
				rlo, rhi = logRange(lo, hi)
			}
			if math.IsInf(rlo, 0) || math.IsInf(rhi, 0) || !(rlo < rhi) || (log && !(rlo > 0)) || rlo > lo || rhi < hi {
				t.Errorf("%s: axis range [%v, %v] for data in [%v, %v]", name, rlo, rhi, lo, hi)
			}
			f, err := Curves(CurvesSpec{LogX: log, LogY: log, Series: []Series{{X: ys, Y: ys}}})
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			func() {
				defer func() {
					if v := recover(); v != nil {
						t.Errorf("%s: panic: %v", name, v)
					}
				}()
				if err := f.PNG(io.Discard, 200, 150); err != nil {
					t.Errorf("%s: PNG: %v", name, err)
				}
				if err := f.SVG(io.Discard, 200, 150); err != nil {
					t.Errorf("%s: SVG: %v", name, err)
				}
			}()
		}
	}
}
