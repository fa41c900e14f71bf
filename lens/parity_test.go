package lens

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/internal/testenv"
	"github.com/mechinterp/workbench/transformer"
)

// Tolerances against the float64 reference.
const (
	// parityLossTol is the bar for per-point loss: our float32
	// residuals differ from the reference's float64 ones by rounding.
	parityLossTol = 1e-4
	// parityTieGap is the bar for accuracy: a prediction may differ
	// from the reference's only where its top two logits are this close.
	parityTieGap = 1e-4
)

type parityCase struct {
	model    *transformer.Model
	tokens   [][]int
	expected map[string]json.RawMessage
}

// parityModel loads the named fixture: models and what an independent
// float64 PyTorch implementation computed from them
// (../shared/testdata/parity/README.md), through testenv, which skips
// the test if the fixtures are absent (failing under CI=true).
func parityModel(t *testing.T, name string) parityCase {
	t.Helper()
	dir := testenv.ParityModel(t, name)
	m, err := transformer.LoadWithConfig(filepath.Join(dir, "model.safetensors"), filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	pc := parityCase{model: m}
	readJSON(t, filepath.Join(dir, "tokens.json"), &pc.tokens)
	readJSON(t, filepath.Join(dir, "expected.json"), &pc.expected)
	return pc
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func TestParityLogitLens(t *testing.T) {
	for _, name := range []string{"attn2_induction", "full2_ln_gelu"} {
		t.Run(name, func(t *testing.T) {
			pc := parityModel(t, name)
			var want struct {
				Labels   []string  `json:"labels"`
				Accuracy []float64 `json:"accuracy"`
				Loss     []float64 `json:"loss"`
			}
			if err := json.Unmarshal(pc.expected["logit_lens"], &want); err != nil {
				t.Fatal(err)
			}
			m, ctx := pc.model, context.Background()
			got, err := Logit(ctx, m, pc.tokens, Options{Logits: true})
			if err != nil {
				t.Fatal(err)
			}
			if labels := labelsOf(got); !slices.Equal(labels, want.Labels) {
				t.Fatalf("labels %q, reference %q", labels, want.Labels)
			}
			ties := nearTies(t, pc, got)
			n := float64(len(pc.tokens) * (len(pc.tokens[0]) - 1))
			for i, s := range got {
				t.Logf("%-26s accuracy %.6f (reference %.6f)  loss %.6f (reference %.6f, Δ %.2g)",
					s.Label, s.Accuracy, want.Accuracy[i], s.Loss, want.Loss[i], s.Loss-want.Loss[i])
				if d := math.Abs(s.Loss - want.Loss[i]); d > parityLossTol {
					t.Errorf("%s: loss %v, reference %v (Δ %.3g > %g)", s.Label, s.Loss, want.Loss[i], d, parityLossTol)
				}
				switch diff := math.Round(math.Abs(s.Accuracy-want.Accuracy[i]) * n); {
				case diff == 0:
				case diff == 1 && ties[i] > 0:
					t.Logf("%s: accuracy differs by one prediction, at one of %d near-tied positions", s.Label, ties[i])
				default:
					t.Errorf("%s: accuracy %v, reference %v (%v predictions apart, %d near-tied positions)", s.Label, s.Accuracy, want.Accuracy[i], diff, ties[i])
				}
			}
		})
	}
}

func labelsOf(st []Stats) []string {
	out := make([]string, len(st))
	for i, s := range st {
		out[i] = s.Label
	}
	return out
}

// nearTies counts, per point, the scored positions whose float64 top two
// logits are within parityTieGap. The final point uses the reference's own
// logits; the reference gives no other point's logits, so the others decode
// our residual in float64 (ln_final and W_U, as the reference does), which
// agrees with the reference to rounding.
func nearTies(t *testing.T, pc parityCase, st []Stats) []int {
	t.Helper()
	m := pc.model
	var names []hooks.Name
	for _, p := range Points(m.Cfg) {
		names = append(names, p.Hook)
	}
	set, cache := hooks.Capture(hooks.Names(names...))
	if _, err := m.Run(context.Background(), pc.tokens, set); err != nil {
		t.Fatal(err)
	}
	var ref [][][]float64 // [batch][pos][d_vocab_out]
	if err := json.Unmarshal(pc.expected["logits"], &ref); err != nil {
		t.Fatal(err)
	}
	batch, pos := len(pc.tokens), len(pc.tokens[0])
	out := make([]int, len(st))
	for i, p := range Points(m.Cfg) {
		resid, _ := cache.Get(p.Hook)
		for r := range batch * pos {
			if r%pos == pos-1 {
				continue // not scored
			}
			row := ref[r/pos][r%pos]
			if i < len(st)-1 {
				row = decode64(m, resid.Data[r*m.Cfg.DModel:(r+1)*m.Cfg.DModel])
			}
			s := slices.Clone(row)
			slices.Sort(s)
			if s[len(s)-1]-s[len(s)-2] < parityTieGap {
				out[i]++
			}
		}
	}
	return out
}

// decode64 applies ln_final (recomputed on x) and the unembedding to one
// residual row in float64.
func decode64(m *transformer.Model, x []float32) []float64 {
	c, p := m.Cfg, m.P
	d := c.DModel
	h := make([]float64, d)
	for j, v := range x {
		h[j] = float64(v)
	}
	if c.HasNorm() {
		var mean, ss float64
		if c.NormalizationType == transformer.NormLN || c.NormalizationType == transformer.NormLNPre {
			for _, v := range h {
				mean += v
			}
			mean /= float64(d)
		}
		for _, v := range h {
			ss += (v - mean) * (v - mean)
		}
		s := math.Sqrt(ss/float64(d) + c.Eps)
		for j := range h {
			h[j] = (h[j] - mean) / s
			if p.LNFinalW != nil {
				h[j] *= float64(p.LNFinalW[j])
			}
			if p.LNFinalB != nil {
				h[j] += float64(p.LNFinalB[j])
			}
		}
	}
	wu := m.Unembed()
	V := wu.Shape[1]
	out := make([]float64, V)
	for v := range V {
		s := float64(p.BU[v])
		for j := range d {
			s += h[j] * float64(wu.Data[j*V+v])
		}
		out[v] = s
	}
	return out
}
