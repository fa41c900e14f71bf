package figures

import (
	"bytes"
	"encoding/xml"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"gonum.org/v1/plot/font"
)

// renderPNG renders f as PNG at w × h, decodes it and checks its size.
func renderPNG(t *testing.T, f *Figure, w, h int) image.Image {
	t.Helper()
	var buf bytes.Buffer
	if err := f.PNG(&buf, w, h); err != nil {
		t.Fatalf("PNG(%d, %d): %v", w, h, err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatalf("decoding PNG: %v", err)
	}
	if w == 0 && h == 0 {
		w, h = f.Size()
	}
	if got := img.Bounds().Size(); got != image.Pt(w, h) {
		t.Fatalf("PNG size %v, want %dx%d", got, w, h)
	}
	return img
}

// renderSVG renders f as SVG at w × h, checks that it is well-formed XML
// with an <svg> root of the right size, and returns its text.
func renderSVG(t *testing.T, f *Figure, w, h int) string {
	t.Helper()
	var buf bytes.Buffer
	if err := f.SVG(&buf, w, h); err != nil {
		t.Fatalf("SVG(%d, %d): %v", w, h, err)
	}
	doc := buf.String()
	if w == 0 && h == 0 {
		w, h = f.Size()
	}
	pt := func(px int) string { return strconv.FormatFloat(float64(px)*0.75, 'g', 5, 64) + "pt" }
	dec := xml.NewDecoder(strings.NewReader(doc))
	root := ""
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
			want := map[string]string{"width": pt(w), "height": pt(h)}
			for _, a := range se.Attr {
				if v, ok := want[a.Name.Local]; ok && a.Value != v {
					t.Errorf("SVG %s = %q, want %q", a.Name.Local, a.Value, v)
				}
			}
		}
	}
	if root != "svg" {
		t.Fatalf("SVG root element %q, want svg", root)
	}
	return doc
}

// renderExtremes renders f at its default size and at the smallest, to
// PNG and SVG, checking the output: degenerate input must still render.
func renderExtremes(t *testing.T, f *Figure) {
	t.Helper()
	renderPNG(t, f, 0, 0)
	renderPNG(t, f, MinSide, MinSide)
	renderSVG(t, f, 0, 0)
	renderSVG(t, f, MinSide, MinSide)
}

// sameColor reports whether pixel c equals want exactly.
func sameColor(c color.Color, want color.NRGBA) bool {
	return color.NRGBAModel.Convert(c).(color.NRGBA) == want
}

// near reports whether c is within tol of want in every channel.
func near(c color.Color, want color.NRGBA, tol int) bool {
	g := color.NRGBAModel.Convert(c).(color.NRGBA)
	d := func(a, b uint8) bool { return math.Abs(float64(a)-float64(b)) <= float64(tol) }
	return d(g.R, want.R) && d(g.G, want.G) && d(g.B, want.B)
}

// bbox returns the bounding box of the pixels of img for which keep is
// true, and how many there are.
func bbox(img image.Image, keep func(color.Color) bool) (image.Rectangle, int) {
	var r image.Rectangle
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if keep(img.At(x, y)) {
				r = r.Union(image.Rect(x, y, x+1, y+1))
				n++
			}
		}
	}
	return r, n
}

// allFigures returns one small figure of each kind, and strings its SVG
// must contain.
func allFigures(t *testing.T) map[string]struct {
	fig  *Figure
	want []string
} {
	t.Helper()
	out := map[string]struct {
		fig  *Figure
		want []string
	}{}
	add := func(name string, f *Figure, err error, want ...string) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = struct {
			fig  *Figure
			want []string
		}{f, want}
	}
	f, err := Heatmap(HeatmapSpec{
		Title: "composition", Values: [][]float64{{0, 1, 2}, {3, 4, 5}},
		RowLabels: []string{"L0H0", "L0H1"}, ColLabels: []string{"L1H0", "L1H1", "L1H2"},
		ColorBarLabel: "K-composition", CellText: [][]string{{"a", "b", "c"}, {"d", "e", "f"}},
	})
	add("heatmap", f, err, "composition", "L0H1", "L1H2", "K-composition")
	f, err = AttentionPattern("L1H3", [][]float64{{1, 0, 0}, {0.5, 0.5, 0}, {0.2, 0.3, 0.5}}, []string{"<bos>", " A&B", "\n"})
	add("attention", f, err, "L1H3", "&lt;bos&gt;", " A&amp;B", `\n`, "attention")
	f, err = Curves(CurvesSpec{
		Title: "training", XLabel: "step", YLabel: "loss", LogY: true,
		Series: []Series{{Name: "train", Y: []float64{4, 3, 2, 1.5}}, {Name: "test", X: []float64{0, 3}, Y: []float64{4.1, 1.7}}},
		VLines: []Marker{{At: 2, Label: "phase change"}},
	})
	add("curves", f, err, "training", "step", "loss", "train", "test", "phase change")
	f, err = Bars(BarsSpec{
		Title: "head scores", Categories: []string{"L0H0", "L0H1"},
		Groups: []BarGroup{{Name: "induction", Values: []float64{0.1, 0.9}}, {Name: "prev-token", Values: []float64{0.8, -0.1}}},
		HLines: []Marker{{At: 0.5, Label: "baseline"}},
	})
	add("bars", f, err, "head scores", "L0H0", "L0H1", "induction", "prev-token", "baseline")
	f, err = Scatter(ScatterSpec{
		Title: "samples", EqualAxes: true,
		Sets: []PointSet{{Name: "generated", X: []float64{0, 1, 2}, Y: []float64{1, 0, 1}}, {Name: "modes", X: []float64{1}, Y: []float64{1}, Glyph: Cross}},
	})
	add("scatter", f, err, "samples", "generated", "modes")
	f, err = ImageGrid(ImageGridSpec{
		Title: "feature maps", Images: [][]float32{{0, 1, 1, 0}, {1, 0, 0, 1}}, Height: 2, Width: 2,
		Labels: []string{"ch0", "ch1"},
	})
	add("imagegrid", f, err, "feature maps", "ch0", "ch1", "<image")
	return out
}

func TestRenderPNGAndSVG(t *testing.T) {
	for name, tc := range allFigures(t) {
		t.Run(name, func(t *testing.T) {
			for _, size := range []image.Point{{0, 0}, {320, 240}, {MinSide, MaxSide / 4}} {
				img := renderPNG(t, tc.fig, size.X, size.Y)
				if _, n := bbox(img, func(c color.Color) bool { return !sameColor(c, color.NRGBA{255, 255, 255, 255}) }); n == 0 {
					t.Errorf("PNG %v is blank", size)
				}
			}
			doc := renderSVG(t, tc.fig, 400, 300)
			for _, w := range tc.want {
				if !strings.Contains(doc, w) {
					t.Errorf("SVG lacks %q", w)
				}
			}
			if strings.Contains(doc, "<text") && !strings.Contains(doc, "'Liberation Sans',Arial") {
				t.Errorf("SVG text does not name Liberation Sans with fall-backs")
			}
		})
	}
}

func TestRenderSizeErrors(t *testing.T) {
	f := allFigures(t)["heatmap"].fig
	for _, size := range []image.Point{{-1, 100}, {100, -1}, {MinSide - 1, 100}, {100, MaxSide + 1}, {MaxSide + 1, 0}} {
		if err := f.PNG(io.Discard, size.X, size.Y); !errors.Is(err, ErrInvalid) {
			t.Errorf("PNG(%d, %d) error %v, want ErrInvalid", size.X, size.Y, err)
		}
		if err := f.SVG(io.Discard, size.X, size.Y); !errors.Is(err, ErrInvalid) {
			t.Errorf("SVG(%d, %d) error %v, want ErrInvalid", size.X, size.Y, err)
		}
	}
}

func TestWriteFiles(t *testing.T) {
	dir := t.TempDir()
	f := allFigures(t)["curves"].fig
	pngPath, svgPath := filepath.Join(dir, "c.png"), filepath.Join(dir, "c.svg")
	if err := f.WritePNG(pngPath, 300, 200); err != nil {
		t.Fatal(err)
	}
	if err := f.WriteSVG(svgPath, 300, 200); err != nil {
		t.Fatal(err)
	}
	file, err := os.Open(pngPath)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	cfg, err := png.DecodeConfig(file)
	if err != nil || cfg.Width != 300 || cfg.Height != 200 {
		t.Errorf("written PNG: %dx%d, %v; want 300x200", cfg.Width, cfg.Height, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Errorf("directory holds %d entries, want 2 (no temporary files left): %v", len(entries), entries)
	}
	// A failed render leaves nothing behind and keeps the old file.
	if err := f.WritePNG(pngPath, -5, 10); !errors.Is(err, ErrInvalid) {
		t.Errorf("WritePNG with a bad size: %v, want ErrInvalid", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("after a failed write the directory holds %d entries, want 2", len(entries))
	}
	if err := f.WriteSVG(filepath.Join(dir, "missing", "c.svg"), 0, 0); err == nil {
		t.Errorf("WriteSVG into a missing directory succeeded")
	}
}

// TestConcurrentRender renders one figure from several goroutines; run
// with -race it checks that figures and the font cache are safe to share.
func TestConcurrentRender(t *testing.T) {
	figs := allFigures(t)
	var wg sync.WaitGroup
	errs := make(chan error, 2*len(figs))
	for range 2 {
		for _, tc := range figs {
			wg.Go(func() {
				if err := tc.fig.PNG(io.Discard, 200, 150); err != nil {
					errs <- err
				}
				if err := tc.fig.SVG(io.Discard, 200, 150); err != nil {
					errs <- err
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestEmbeddedFont checks that the font the figures use comes from
// gonum/plot's embedded collection, not from the system.
func TestEmbeddedFont(t *testing.T) {
	if !font.DefaultCache.Has(sans(0)) {
		t.Fatalf("font cache lacks %v", sans(0))
	}
	face := font.DefaultCache.Lookup(sans(10), 10)
	if face.Font.Variant != "Sans" || face.Face == nil {
		t.Errorf("lookup of %v gave %+v", sans(10), face.Font)
	}
}
