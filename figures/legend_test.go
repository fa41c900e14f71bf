package figures

import (
	"image/color"
	"testing"
)

// TestLegendEntriesApart renders a four-entry legend (names with
// ascenders and descenders, as "probe accuracy" over "held-out (L1)")
// in the top-left corner and checks that its rows of text are separated
// by blank pixel rows: entries that touch are what made the notebooks'
// legends cramped.
func TestLegendEntriesApart(t *testing.T) {
	names := []string{"held-out accuracy", "probe accuracy", "max previous-token score (L0)", "max induction score (L1)"}
	var series []Series
	for i, n := range names {
		series = append(series, Series{Name: n, X: []float64{0, 1}, Y: []float64{0.1 * float64(i), 0.1 * float64(i)}})
	}
	f, err := Curves(CurvesSpec{Series: series, LegendLeft: true, YRange: Range{Min: 0, Max: 10}})
	if err != nil {
		t.Fatal(err)
	}
	img := renderPNG(t, f, 900, 380)
	b := img.Bounds()
	// Rows with dark text pixels in the legend's columns (the left third,
	// past the y axis), from the top down to the first blank stretch
	// after four bands.
	dark := func(y int) bool {
		for x := b.Min.X + 100; x < b.Min.X+b.Dx()/3; x++ {
			c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			if c.R < 0x60 && c.G < 0x60 && c.B < 0x60 {
				return true
			}
		}
		return false
	}
	var bands, gaps []int
	inBand, gap := false, 0
	for y := b.Min.Y + 20; y < b.Min.Y+b.Dy()/2 && len(bands) < len(names); y++ {
		switch d := dark(y); {
		case d && !inBand:
			if len(bands) > 0 {
				gaps = append(gaps, gap)
			}
			bands = append(bands, y)
			inBand = true
		case !d && inBand:
			inBand, gap = false, 1
		case !d:
			gap++
		}
	}
	if len(bands) != len(names) {
		t.Fatalf("found %d rows of legend text at %v, want %d apart", len(bands), bands, len(names))
	}
	const minGap = 3 // pixels of white between one entry's descenders and the next's ascenders
	for i, g := range gaps {
		if g < minGap {
			t.Errorf("legend entries %q and %q are %d px apart, want at least %d", names[i], names[i+1], g, minGap)
		}
	}
}
