package report

import (
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/mechinterp/workbench/sae"
)

// TestWriteFeatures writes the figures of two dashboards, one without
// logit effects: each named file is a PNG of the figure's size, and a
// feature without logit effects gets no logit figure.
func TestWriteFeatures(t *testing.T) {
	f := func(id int, logits bool) sae.Feature {
		ft := sae.Feature{FeatureSummary: sae.FeatureSummary{ID: id, Density: 0.1, MaxAct: 2},
			Histogram: sae.Histogram{Edges: []float64{0, 1, 2}, Counts: []int{3, 1}}}
		if logits {
			ft.Promoted = []sae.TokenEffect{{Token: 1, Effect: 0.5}}
			ft.Suppressed = []sae.TokenEffect{{Token: 2, Effect: -0.3}}
		}
		return ft
	}
	db := &sae.Dashboards{Features: []sae.Feature{f(3, true), f(7, false)}}
	dir := t.TempDir()
	figs, err := WriteFeatures(dir, db, strconv.Itoa)
	if err != nil {
		t.Fatal(err)
	}
	if len(figs) != 2 || figs[0].Logits == "" || figs[1].Logits != "" {
		t.Fatalf("figures %+v", figs)
	}
	for _, name := range []string{figs[0].Histogram, figs[0].Logits, figs[1].Histogram} {
		fh, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := png.DecodeConfig(fh)
		fh.Close()
		if err != nil || cfg.Width != widthPx || cfg.Height != heightPx {
			t.Errorf("%s: %v, %d×%d", name, err, cfg.Width, cfg.Height)
		}
	}
	if err := WriteCurve(filepath.Join(dir, "curve.png"), "curve", []sae.CurvePoint{{K: 1, L0: 1, FVU: 0.5, CERecovered: 0.6}, {K: 4, L0: 4, FVU: 0.2, CERecovered: 0.9}}); err != nil {
		t.Fatal(err)
	}
	if _, err := Histogram(&sae.Feature{}); err == nil {
		t.Error("a histogram without bins drew")
	}
}
