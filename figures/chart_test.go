package figures

import (
	"errors"
	"image"
	"image/color"
	"math"
	"testing"
)

// halves returns, for each half of img (left, right), the number of pixels
// of colour want.
func halves(img image.Image, want color.NRGBA) (left, right int) {
	b := img.Bounds()
	mid := (b.Min.X + b.Max.X) / 2
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if sameColor(img.At(x, y), want) {
				if x < mid {
					left++
				} else {
					right++
				}
			}
		}
	}
	return left, right
}

func TestBarsHeights(t *testing.T) {
	// Two bars from 0: the first twice as tall as the second, so twice the
	// pixels of the group's colour.
	f, err := Bars(BarsSpec{Categories: []string{"L0H0", "L0H1"}, Groups: []BarGroup{{Values: []float64{1, 0.5}}}, YRange: Range{0, 1}})
	if err != nil {
		t.Fatal(err)
	}
	img := renderPNG(t, f, 400, 300)
	left, right := halves(img, seriesColor(0))
	if right == 0 || math.Abs(float64(left)/float64(right)-2) > 0.1 {
		t.Errorf("bar pixels %d (value 1) and %d (value 0.5): ratio %.3f, want 2", left, right, float64(left)/float64(right))
	}
}

func TestBarsErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec BarsSpec
	}{
		{"empty", BarsSpec{}},
		{"no groups", BarsSpec{Categories: []string{"a"}}},
		{"length", BarsSpec{Categories: []string{"a", "b"}, Groups: []BarGroup{{Values: []float64{1}}}}},
		{"NaN", BarsSpec{Categories: []string{"a"}, Groups: []BarGroup{{Values: []float64{math.NaN()}}}}},
		{"marker", BarsSpec{Categories: []string{"a"}, Groups: []BarGroup{{Values: []float64{1}}}, HLines: []Marker{{At: math.Inf(1)}}}},
		{"range", BarsSpec{Categories: []string{"a"}, Groups: []BarGroup{{Values: []float64{1}}}, YRange: Range{1, 1}}},
	} {
		if _, err := Bars(tc.spec); !errors.Is(err, ErrInvalid) {
			t.Errorf("Bars(%s): %v, want ErrInvalid", tc.name, err)
		}
	}
}

func TestBarsManyCategories(t *testing.T) {
	cats := make([]string, 200)
	for i := range cats {
		cats[i] = "layer 0 head " + string(rune('A'+i%26))
	}
	vals := make([]float64, len(cats))
	for i := range vals {
		vals[i] = math.Sin(float64(i))
	}
	f, err := Bars(BarsSpec{Categories: cats, Groups: []BarGroup{{Name: "score", Values: vals}}})
	if err != nil {
		t.Fatal(err)
	}
	renderPNG(t, f, 0, 0)
	renderSVG(t, f, 400, 300)
}

func TestScatterEqualAxes(t *testing.T) {
	// Vectors to (1, 0) and (0, 1) on a wide canvas: with equal axes they
	// are as long as each other in pixels.
	f, err := Scatter(ScatterSpec{EqualAxes: true, Sets: []PointSet{{X: []float64{1, 0}, Y: []float64{0, 1}, Glyph: Vector}}})
	if err != nil {
		t.Fatal(err)
	}
	img := renderPNG(t, f, 800, 400)
	box, n := bbox(img, func(c color.Color) bool { return near(c, seriesColor(0), 8) })
	if n == 0 {
		t.Fatal("no vector pixels")
	}
	if math.Abs(float64(box.Dx()-box.Dy())) > 2 {
		t.Errorf("vectors span %dx%d pixels, want a square", box.Dx(), box.Dy())
	}
}

func TestScatterDegenerateAndErrors(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		name string
		spec ScatterSpec
	}{
		{"none", ScatterSpec{}},
		{"one point", ScatterSpec{EqualAxes: true, Sets: []PointSet{{X: []float64{1}, Y: []float64{1}, Glyph: Ring}}}},
		{"NaN points", ScatterSpec{Sets: []PointSet{{X: []float64{nan, 1}, Y: []float64{1, nan}}}}},
		{"huge", ScatterSpec{EqualAxes: true, Sets: []PointSet{{X: []float64{-1e308, 1e308}, Y: []float64{0, 1}}}}},
		{"ranges", ScatterSpec{XRange: Range{-1, 1}, YRange: Range{-2, 2}, Sets: []PointSet{{X: []float64{5}, Y: []float64{5}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Scatter(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			renderExtremes(t, f)
		})
	}
	for _, tc := range []struct {
		name string
		spec ScatterSpec
	}{
		{"length", ScatterSpec{Sets: []PointSet{{X: []float64{1}}}}},
		{"glyph", ScatterSpec{Sets: []PointSet{{Glyph: Glyph(9)}}}},
		{"x range", ScatterSpec{XRange: Range{0, nan}}},
		{"y range", ScatterSpec{YRange: Range{3, 2}}},
	} {
		if _, err := Scatter(tc.spec); !errors.Is(err, ErrInvalid) {
			t.Errorf("Scatter(%s): %v, want ErrInvalid", tc.name, err)
		}
	}
}

func TestImageGridPixels(t *testing.T) {
	// Image 0 is a 2×2 checker of 0 (top-left, bottom-right) and 1; image
	// 1 is all -1. Over the range [-1, 2] in grey, 0 is 0x55, 1 is 0xaa
	// and -1 black, which no blend of the other two makes.
	f, err := ImageGrid(ImageGridSpec{
		Images: [][]float32{{0, 1, 1, 0}, {-1, -1, -1, -1}},
		Height: 2, Width: 2, Range: Range{-1, 2},
	})
	if err != nil {
		t.Fatal(err)
	}
	img := renderPNG(t, f, 200, 100)
	grey := func(v uint8) color.NRGBA { return color.NRGBA{v, v, v, 0xff} }
	dark, _ := bbox(img, func(c color.Color) bool { return sameColor(c, grey(0x55)) })
	light, _ := bbox(img, func(c color.Color) bool { return sameColor(c, grey(0xaa)) })
	mid, _ := bbox(img, func(c color.Color) bool { return sameColor(c, grey(0)) })
	if dark.Empty() || light.Empty() || mid.Empty() {
		t.Fatalf("missing pixels: dark %v light %v mid %v", dark, light, mid)
	}
	if dark != light || dark.Max.X > 100 || mid.Min.X < 100 {
		t.Errorf("image 0 at %v and %v, image 1 at %v: want image 0 on the left, image 1 on the right", dark, light, mid)
	}
	// The top-left pixel of image 0 is dark, the top-right light.
	q := image.Pt(dark.Dx()/4, dark.Dy()/4)
	if got := img.At(dark.Min.X+q.X, dark.Min.Y+q.Y); !sameColor(got, grey(0x55)) {
		t.Errorf("top-left pixel of image 0: %v, want %v", got, grey(0x55))
	}
	if got := img.At(dark.Max.X-q.X, dark.Min.Y+q.Y); !sameColor(got, grey(0xaa)) {
		t.Errorf("top-right pixel of image 0: %v, want %v", got, grey(0xaa))
	}
}

func TestImageGridRGBAndPerImage(t *testing.T) {
	red := []float32{1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0} // [channel, height, width] 3×2×2
	f, err := ImageGrid(ImageGridSpec{Images: [][]float32{red}, Channels: 3, Height: 2, Width: 2, Range: Range{0, 1}})
	if err != nil {
		t.Fatal(err)
	}
	img := renderPNG(t, f, 100, 100)
	if _, n := bbox(img, func(c color.Color) bool { return sameColor(c, color.NRGBA{0xff, 0, 0, 0xff}) }); n < 1000 {
		t.Errorf("%d pure red pixels, want the image", n)
	}
	f, err = ImageGrid(ImageGridSpec{
		Images: [][]float32{{10, 20}, {-3, -1}, {float32(math.NaN()), 1}}, Height: 1, Width: 2,
		PerImage: true, ColorMap: Diverging, Cols: 1, Labels: []string{"a", "b", "a rather long label"}, Title: "per image",
	})
	if err != nil {
		t.Fatal(err)
	}
	renderExtremes(t, f)
}

func TestImageGridErrors(t *testing.T) {
	im := []float32{1, 2, 3, 4}
	for _, tc := range []struct {
		name string
		spec ImageGridSpec
	}{
		{"none", ImageGridSpec{Height: 2, Width: 2}},
		{"length", ImageGridSpec{Images: [][]float32{im, {1}}, Height: 2, Width: 2}},
		{"channels", ImageGridSpec{Images: [][]float32{im}, Channels: 2, Height: 1, Width: 2}},
		{"height", ImageGridSpec{Images: [][]float32{im}, Height: 0, Width: 4}},
		{"too large", ImageGridSpec{Images: [][]float32{im}, Height: 1 << 20, Width: 1 << 20}},
		{"cols", ImageGridSpec{Images: [][]float32{im}, Height: 2, Width: 2, Cols: 2}},
		{"negative cols", ImageGridSpec{Images: [][]float32{im}, Height: 2, Width: 2, Cols: -1}},
		{"labels", ImageGridSpec{Images: [][]float32{im}, Height: 2, Width: 2, Labels: []string{"a", "b"}}},
		{"per image and range", ImageGridSpec{Images: [][]float32{im}, Height: 2, Width: 2, PerImage: true, Range: Range{0, 1}}},
		{"range", ImageGridSpec{Images: [][]float32{im}, Height: 2, Width: 2, Range: Range{1, 0}}},
		{"colour map", ImageGridSpec{Images: [][]float32{im}, Height: 2, Width: 2, ColorMap: -1}},
	} {
		if _, err := ImageGrid(tc.spec); !errors.Is(err, ErrInvalid) {
			t.Errorf("ImageGrid(%s): %v, want ErrInvalid", tc.name, err)
		}
	}
}
