package lens

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/nn"
	"github.com/mechinterp/workbench/transformer"
)

// finalLogitTol bounds |logit lens at the final residual − model logits|.
// The decoder makes the model's own calls on the same buffer sizes, so the
// difference is 0; the tolerance only admits a GEMM kernel whose rounding
// depended on the call site.
const finalLogitTol = 1e-6

// lossTol bounds the difference between two float64 reductions of the same
// float32 logits.
const lossTol = 1e-9

func TestPoints(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  transformer.Config
		want []string
	}{
		{"attn_only", variants()["attn_only"], []string{"embed", "blocks.0.hook_resid_post", "blocks.1.hook_resid_post"}},
		{"ln_gelu", variants()["ln_gelu"], []string{"embed", "blocks.0.hook_resid_mid", "blocks.0.hook_resid_post", "blocks.1.hook_resid_mid", "blocks.1.hook_resid_post"}},
		{"pythia_like", variants()["pythia_like"], []string{"embed", "blocks.0.hook_resid_post", "blocks.1.hook_resid_post"}},
	} {
		if got := Labels(tc.cfg.WithDefaults()); !slices.Equal(got, tc.want) {
			t.Errorf("%s: Labels = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestLogitLensFinalIsModelLogits(t *testing.T) {
	ctx := context.Background()
	for name, cfg := range variants() {
		t.Run(name, func(t *testing.T) {
			m := newModel(t, cfg, 11)
			toks := randTokens(rand.New(rand.NewPCG(5, 5)), 3, 7, tokenVocab(m))
			logits, err := m.Run(ctx, toks, nil)
			if err != nil {
				t.Fatal(err)
			}
			// Capture only the residuals: hooks elsewhere (hook_result, the
			// attention scores) switch the model to per-head code paths that
			// round differently.
			var names []hooks.Name
			for _, p := range Points(m.Cfg) {
				names = append(names, p.Hook)
			}
			set, cache := hooks.Capture(hooks.Names(names...))
			if _, err := m.Run(ctx, toks, set); err != nil {
				t.Fatal(err)
			}
			st, err := Logit(ctx, m, toks, Options{Logits: true})
			if err != nil {
				t.Fatal(err)
			}
			last := st[len(st)-1]
			var maxDiff float64
			for i, v := range logits.Data {
				maxDiff = max(maxDiff, math.Abs(float64(v-last.Logits.Data[i])))
			}
			if maxDiff > finalLogitTol {
				t.Errorf("logit lens at the final residual differs from the model's logits by %g > %g", maxDiff, finalLogitTol)
			} else if maxDiff != 0 {
				t.Logf("logit lens at the final residual differs from the model's logits by %g (not bit-identical)", maxDiff)
			}
			if last.KLToFinal != 0 {
				t.Errorf("KL to final at the final residual = %g, want 0", last.KLToFinal)
			}
			loss, err := m.Loss(ctx, toks, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(last.Loss-loss) > lossTol {
				t.Errorf("logit lens loss at the final residual %v, Model.Loss %v", last.Loss, loss)
			}
			// Every point decodes like Model.Decode of the cached residual.
			for i, p := range Points(m.Cfg) {
				resid, err := cache.Must(p.Hook)
				if err != nil {
					t.Fatal(err)
				}
				want, err := m.Decode(resid)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(st[i].Logits.Data, want.Data) {
					t.Errorf("%s: decoded logits differ from Model.Decode", p.Label)
				}
				if st[i].Label != p.Label {
					t.Errorf("stats %d labelled %q, want %q", i, st[i].Label, p.Label)
				}
			}
		})
	}
}

// TestLogitLensRecomputesScale is the TransformerLens #1076 regression: an
// earlier residual must be normalised by its own scale, so scaling the
// residual by a constant leaves its LN logits unchanged.
func TestLogitLensRecomputesScale(t *testing.T) {
	m := newModel(t, variants()["ln_gelu"], 2)
	toks := randTokens(rand.New(rand.NewPCG(1, 9)), 2, 5, m.Cfg.DVocab)
	resid, err := m.RunToLayer(context.Background(), toks, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	dec := newDecoder(m, 10)
	a := slices.Clone(dec.forward(resid.Data))
	scaled := resid.Clone()
	for i := range scaled.Data {
		scaled.Data[i] *= 4
	}
	b := dec.forward(scaled.Data)
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-4 {
			t.Fatalf("logit %d: %v for the residual, %v for 4× the residual: the decoder did not recompute ln_final's scale", i, a[i], b[i])
		}
	}
}

func TestStatsInvariants(t *testing.T) {
	m := newModel(t, variants()["ln_gelu"], 4)
	toks := randTokens(rand.New(rand.NewPCG(2, 2)), 2, 6, m.Cfg.DVocab)
	st, err := Logit(context.Background(), m, toks, Options{TopK: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if len(s.Top) != 2 || len(s.Top[0]) != 6 || len(s.Top[0][0]) != 3 {
			t.Fatalf("%s: top has shape %d×%d×%d, want 2×6×3", s.Label, len(s.Top), len(s.Top[0]), len(s.Top[0][0]))
		}
		for _, row := range s.Top[1] {
			if !(row[0].Prob >= row[1].Prob && row[1].Prob >= row[2].Prob) {
				t.Errorf("%s: top-k not sorted: %v", s.Label, row)
			}
		}
		if s.Accuracy < 0 || s.Accuracy > 1 || s.KLToFinal < 0 || s.Entropy < 0 || s.Entropy > math.Log(float64(m.Cfg.DVocabOut))+1e-9 {
			t.Errorf("%s: metrics out of range: %+v", s.Label, s)
		}
	}
	if st, _ := Logit(context.Background(), m, toks, Options{}); st[0].Top != nil {
		t.Error("the zero Options kept top tokens")
	}
	if _, err := Logit(context.Background(), m, toks, Options{TopK: -1}); err == nil || !strings.Contains(err.Error(), "top-k") {
		t.Errorf("TopK -1: error %v, want one naming top-k", err)
	}
}

func TestLogitLensErrors(t *testing.T) {
	m := newModel(t, variants()["vocab_out"], 1)
	ctx := context.Background()
	for _, tc := range []struct {
		toks [][]int
		want string
	}{
		{[][]int{{1, 2, 11}}, "out of range"},
		{[][]int{{1, 2}, {1}}, "equal length"},
		{[][]int{{1}}, "at least 2"},
		{[][]int{{1, 9, 2}}, "output vocabulary"},
		{nil, "no token"},
	} {
		if _, err := Logit(ctx, m, tc.toks, Options{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Logit(%v): error %v, want one containing %q", tc.toks, err, tc.want)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Logit(cctx, m, [][]int{{1, 2, 3}}, Options{}); err == nil {
		t.Error("Logit with a cancelled context succeeded")
	}
}

// gradCheckTol bounds |analytic − central difference| / max(1, |numeric|):
// float32 forward passes reduced in float64, rounding noise ≈
// 1e-7·|loss|/GradCheckStep.
const gradCheckTol = 2e-3

// reluFreeStep is the central-difference step: the decoder and translator
// are smooth, so nn.GradCheckStep applies.
const reluFreeStep = nn.GradCheckStep

func TestDecoderGradient(t *testing.T) {
	for name, cfg := range variants() {
		t.Run(name, func(t *testing.T) {
			m := newModel(t, cfg, 21)
			const rows = 3
			d, V := m.Cfg.DModel, m.Cfg.DVocabOut
			rng := rand.New(rand.NewPCG(8, 8))
			x := make([]float32, rows*d)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			r := make([]float32, rows*V) // loss = Σ r ⊙ logits
			for i := range r {
				r[i] = float32(rng.NormFloat64())
			}
			dec := newDecoder(m, rows)
			xs := make([]float32, len(x))
			loss := func(p []float64) float64 {
				nn.To32(xs, p)
				var s float64
				for i, l := range dec.forward(xs) {
					s += float64(l) * float64(r[i])
				}
				return s
			}
			dec.forward(x)
			dx := make([]float32, len(x))
			dec.backward(dx, r, x)
			e, at := nn.GradCheck(loss, nn.To64(x), nn.To64(dx), reluFreeStep)
			if e > gradCheckTol {
				t.Errorf("decoder ∂loss/∂x: error %.3g at %d > %g (seed 21)", e, at, gradCheckTol)
			}
		})
	}
}
