package circuits

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/mechinterp/workbench/internal/testenv"
	"github.com/mechinterp/workbench/transformer"
)

// detectParityTol is the bar for detector scores: the patterns come
// from our float32 forward pass, the reference's from float64, and the
// scores average them (float32 rounding of softmax outputs is about 1e-7).
const detectParityTol = 1e-5

// parityModels lists the parity fixtures' folders, through testenv
// (which skips the test when the fixtures are absent, failing under
// CI=true).
func parityModels(t *testing.T) []string {
	t.Helper()
	return []string{testenv.ParityModel(t, "attn2_induction"), testenv.ParityModel(t, "full2_ln_gelu")}
}

// parityWant is the part of expected.json this package reproduces.
type parityWant struct {
	Composition         map[string][][][][]float64 `json:"composition"`
	OVEigenPositivity   [][]float64                `json:"ov_eigen_positivity"`
	FullOVTop1          [][]float64                `json:"full_ov_top1"`
	PrevTokenScore      [][]float64                `json:"prev_token_score"`
	DuplicateTokenScore [][]float64                `json:"duplicate_token_score"`
	InductionScore      [][]float64                `json:"induction_score"`
}

// compareGrid reports entries of got [l][h] further than tol from want.
func compareGrid(t *testing.T, label string, got, want [][]float64, tol float64) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d layers, want %d", label, len(got), len(want))
	}
	worst := 0.0
	for l := range want {
		for h, w := range want[l] {
			d := math.Abs(got[l][h] - w)
			worst = max(worst, d)
			if !(d <= tol) {
				t.Errorf("%s %s: %v, reference %v", label, HeadLabel(l, h), got[l][h], w)
			}
		}
	}
	return worst
}

// compareComp4 compares composition arrays and returns the largest error.
func compareComp4(t *testing.T, label string, got *Composition, want map[string][][][][]float64) float64 {
	t.Helper()
	worst := 0.0
	for m, name := range []string{"Q", "K", "V"} {
		g := got.modes()[m]
		for l1 := range want[name] {
			for h1 := range want[name][l1] {
				worst = max(worst, compareGrid(t, label+" "+name+" from "+HeadLabel(l1, h1), g[l1][h1], want[name][l1][h1], parityTol))
			}
		}
	}
	return worst
}

// TestModelParity checks the model-level API on transformer.Load'ed parity
// models: composition scores and OV eigenvalue positivity within 1e-6,
// full-OV top-1 exactly, detector scores within 1e-5 — through the
// individual functions and through Analyze.
func TestModelParity(t *testing.T) {
	for _, dir := range parityModels(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			ctx := context.Background()
			m, err := transformer.LoadWithConfig(filepath.Join(dir, "model.safetensors"), filepath.Join(dir, "config.json"))
			if err != nil {
				t.Fatal(err)
			}
			var want parityWant
			readJSON(t, filepath.Join(dir, "expected.json"), &want)
			var tokens [][]int
			readJSON(t, filepath.Join(dir, "tokens.json"), &tokens)

			comp, err := compositionScores(ctx, heads64Of(m))
			if err != nil {
				t.Fatal(err)
			}
			compErr := compareComp4(t, "composition", comp, want.Composition)

			w := WeightsOf(m)
			pos, top1 := grid2(m.Cfg.NLayers, m.Cfg.NHeads), grid2(m.Cfg.NLayers, m.Cfg.NHeads)
			for l := range pos {
				for h := range pos[l] {
					ov, err := w.FullOV(l, h)
					if err != nil {
						t.Fatal(err)
					}
					if pos[l][h], err = EigenPositivity(ov); err != nil {
						t.Fatal(err)
					}
					if top1[l][h], err = Top1Diagonal(ctx, ov); err != nil {
						t.Fatal(err)
					}
				}
			}
			posErr := compareGrid(t, "OV eigenvalue positivity", pos, want.OVEigenPositivity, parityTol)
			compareGrid(t, "full OV top-1", top1, want.FullOVTop1, 0)

			p, err := RunPatterns(ctx, m, tokens)
			if err != nil {
				t.Fatal(err)
			}
			var detErr float64
			for _, d := range []struct {
				name string
				det  DetectionPattern
				want [][]float64
			}{
				{"previous-token", PrevTokenPattern, want.PrevTokenScore},
				{"duplicate-token", DuplicateTokenPattern, want.DuplicateTokenScore},
				{"induction", InductionPattern, want.InductionScore},
			} {
				got, err := p.Detect(d.det, DetectOptions{})
				if err != nil {
					t.Fatal(err)
				}
				detErr = max(detErr, compareGrid(t, d.name, got, d.want, detectParityTol))
			}
			t.Logf("largest errors: composition %.2g, OV positivity %.2g, detectors %.2g", compErr, posErr, detErr)

			r, err := Analyze(ctx, m, AnalyzeOptions{Tokens: tokens})
			if err != nil {
				t.Fatal(err)
			}
			compareComp4(t, "Analyze composition", r.Composition, want.Composition)
			compareGrid(t, "Analyze OV eigenvalue positivity", r.OVEigenPositivity, want.OVEigenPositivity, parityTol)
			compareGrid(t, "Analyze full OV top-1", r.FullOVTop1, want.FullOVTop1, 0)
			compareGrid(t, "Analyze previous-token", r.PrevTokenScore, want.PrevTokenScore, detectParityTol)
			compareGrid(t, "Analyze duplicate-token", r.DuplicateTokenScore, want.DuplicateTokenScore, detectParityTol)
			compareGrid(t, "Analyze induction", r.InductionScore, want.InductionScore, detectParityTol)
			if r.CompositionBaseline != 1/math.Sqrt(float64(m.Cfg.DModel)) {
				t.Errorf("baseline %v, want 1/√%d", r.CompositionBaseline, m.Cfg.DModel)
			}
		})
	}
}
