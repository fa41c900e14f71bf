package circuits

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/internal/testenv"
	"github.com/mechinterp/workbench/transformer"
	"github.com/mechinterp/workbench/transformer/hf"
	"github.com/mechinterp/workbench/transformer/transformertest"
)

// rotaryConfig is a one-layer attention-only rotary model without
// normalization, whose attention scores are exactly the QK circuit's.
func rotaryConfig(rotaryDim, kvHeads int) transformer.Config {
	return transformer.Config{NLayers: 1, DModel: 16, NHeads: 4, DHead: 8, DVocab: 13, NCtx: 12, AttnOnly: true,
		PositionalEmbeddingType: transformer.PosRotary, RotaryDim: rotaryDim, NKeyValueHeads: kvHeads, Seed: 1}
}

// TestQKAtIsTheModelsScores checks the rotary QK circuit against the
// model's own attention scores: with no normalization and zero query and
// key biases, hook_attn_scores[b, h, i, j] is W_E[t_i]·QKAt(i−j)·W_E[t_j]ᵀ
// / √d_head for every i ≥ j, for full and partial rotary, with and without
// grouped-query attention. The rotation here is the circuits package's
// own; the model's is the transformer package's.
func TestQKAtIsTheModelsScores(t *testing.T) {
	for _, tc := range []struct{ rotaryDim, kv int }{{8, 4}, {4, 4}, {8, 2}, {6, 1}} {
		m := transformertest.Random(t, rotaryConfig(tc.rotaryDim, tc.kv), uint64(tc.rotaryDim*10+tc.kv))
		clear(m.P.Blocks[0].BQ)
		clear(m.P.Blocks[0].BK)
		c := m.Cfg
		tokens := transformertest.Tokens(rand.New(rand.NewPCG(5, 6)), 2, c.NCtx, c.DVocab)
		set, cache := hooks.Capture(hooks.Names(hooks.AttnScores(0)))
		if _, err := m.Run(context.Background(), tokens, set); err != nil {
			t.Fatal(err)
		}
		scores, _ := cache.Get(hooks.AttnScores(0)) // [batch, head, q, k]
		w := WeightsOf(m)
		T, H := c.NCtx, c.NHeads
		worst := 0.0
		for h := range H {
			for delta := 0; delta < T; delta++ {
				full, err := w.FullQKAt(0, h, delta)
				if err != nil {
					t.Fatal(err)
				}
				dense := full.Dense()
				for b, seq := range tokens {
					for i := delta; i < T; i++ {
						j := i - delta
						want := dense.At(seq[i], seq[j]) / math.Sqrt(float64(c.DHead))
						got := float64(scores.Data[((b*H+h)*T+i)*T+j])
						worst = max(worst, math.Abs(got-want)/(1+math.Abs(want)))
					}
				}
			}
		}
		if worst > 1e-5 {
			t.Errorf("rotary_dim %d, %d kv heads: attention scores differ from the rotary QK circuit by %.3g (relative)", tc.rotaryDim, tc.kv, worst)
		}
		// QKAt(0) is QK, and the circuit turns with the offset.
		qk, _ := w.QK(0, 0)
		at0, _ := w.QKAt(0, 0, 0)
		at3, _ := w.QKAt(0, 0, 3)
		if d := maxAbsDiff(qk.Dense(), at0.Dense()); d > 1e-12 {
			t.Errorf("QKAt(0) differs from QK by %g", d)
		}
		if d := maxAbsDiff(qk.Dense(), at3.Dense()); d < 1e-3 {
			t.Errorf("QKAt(3) equals QK (difference %g): the offset is ignored", d)
		}
	}
}

func maxAbsDiff(a, b interface {
	At(i, j int) float64
	Dims() (int, int)
}) float64 {
	r, c := a.Dims()
	d := 0.0
	for i := range r {
		for j := range c {
			d = max(d, math.Abs(a.At(i, j)-b.At(i, j)))
		}
	}
	return d
}

// TestRotaryPositionalCircuits checks that a rotary model refuses the
// W_pos circuit, whose matrix it does not use, and that QKAt refuses a
// model without rotary embeddings and a negative offset.
func TestRotaryPositionalCircuits(t *testing.T) {
	rot := WeightsOf(transformertest.Random(t, rotaryConfig(8, 4), 1))
	if _, err := rot.PosQK(0, 0); err == nil || !strings.Contains(err.Error(), "rotary") {
		t.Errorf("PosQK on a rotary model: %v, want an error naming rotary", err)
	}
	if _, err := rot.QKAt(0, 0, -1); err == nil {
		t.Error("QKAt with a negative offset: no error")
	}
	if _, err := rot.QKAt(0, 9, 0); err == nil {
		t.Error("QKAt of a missing head: no error")
	}
	std := WeightsOf(transformertest.Random(t, transformertest.Variants()["attn_only"], 1))
	if _, err := std.QKAt(0, 0, 1); err == nil || !strings.Contains(err.Error(), "PosQK") {
		t.Errorf("QKAt on a W_pos model: %v, want an error pointing to PosQK", err)
	}
	if _, err := std.PosQK(0, 0); err != nil {
		t.Errorf("PosQK on a W_pos model: %v", err)
	}
}

// TestAnalyzeGroupedEqualsUngrouped runs the whole circuit report on a
// grouped-query model and on the same model written out with one key and
// value head per query head (transformertest.Ungrouped): the two compute
// the same function, so every score must agree. The copying score reads
// hook_v, which a grouped model holds per key/value head.
func TestAnalyzeGroupedEqualsUngrouped(t *testing.T) {
	c := transformer.Config{NLayers: 2, DModel: 16, NHeads: 4, DHead: 4, DMLP: 24, DVocab: 17, NCtx: 24,
		NormalizationType: transformer.NormRMS, PositionalEmbeddingType: transformer.PosRotary, NKeyValueHeads: 2,
		GatedMLP: true, ActFn: transformer.ActSiLU, Seed: 2}
	m := transformertest.Random(t, c, 7)
	u := transformertest.Ungrouped(t, m)
	tokens := transformertest.Tokens(rand.New(rand.NewPCG(1, 2)), 3, 10, c.DVocab)
	opt := AnalyzeOptions{Tokens: tokens, Seed: 4, Sequences: 8}
	rg, err := Analyze(context.Background(), m, opt)
	if err != nil {
		t.Fatal(err)
	}
	ru, err := Analyze(context.Background(), u, opt)
	if err != nil {
		t.Fatal(err)
	}
	compareReports(t, reflect.ValueOf(rg).Elem(), reflect.ValueOf(ru).Elem(), "Report")
}

// compareReports walks two reports and compares every float within 1e-5
// (relative) and everything else exactly.
func compareReports(t *testing.T, a, b reflect.Value, path string) {
	t.Helper()
	switch a.Kind() {
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				t.Errorf("%s: nil in one report only", path)
			}
			return
		}
		compareReports(t, a.Elem(), b.Elem(), path)
	case reflect.Struct:
		for i := range a.NumField() {
			if a.Type().Field(i).IsExported() {
				compareReports(t, a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name)
			}
		}
	case reflect.Slice, reflect.Array:
		if a.Len() != b.Len() {
			t.Errorf("%s: %d against %d elements", path, a.Len(), b.Len())
			return
		}
		for i := range a.Len() {
			compareReports(t, a.Index(i), b.Index(i), path+"["+string(rune('0'+i%10))+"]")
		}
	case reflect.Float32, reflect.Float64:
		x, y := a.Float(), b.Float()
		if math.Abs(x-y) > 1e-5*(1+math.Abs(y)) && !(math.IsNaN(x) && math.IsNaN(y)) {
			t.Errorf("%s: grouped %g, ungrouped %g", path, x, y)
		}
	case reflect.Map:
		if a.Len() != b.Len() {
			t.Errorf("%s: maps of %d and %d entries", path, a.Len(), b.Len())
		}
	default:
		if !reflect.DeepEqual(a.Interface(), b.Interface()) {
			t.Errorf("%s: grouped %v, ungrouped %v", path, a.Interface(), b.Interface())
		}
	}
}

// TestAnalyzeHuggingFaceModels runs the circuit report and the rotary
// circuits on the Hugging Face fixtures (GPT-2, Pythia with partial rotary
// and parallel blocks, Llama with grouped-query attention): every score is
// finite and in range.
func TestAnalyzeHuggingFaceModels(t *testing.T) {
	dir := testenv.SharedDir(t, "hf")
	for _, name := range []string{"gpt2_tiny", "pythia_tiny", "llama_gqa_tiny"} {
		m, err := hf.Load(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		tokens := transformertest.Tokens(rand.New(rand.NewPCG(3, 4)), 2, 12, m.Cfg.DVocab)
		r, err := Analyze(context.Background(), m, AnalyzeOptions{Tokens: tokens, Seed: 1})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for l := range r.Composition.Q {
			for h1 := range r.Composition.Q[l] {
				for l2 := range r.Composition.Q[l][h1] {
					for _, v := range r.Composition.K[l][h1][l2] {
						if math.IsNaN(v) || v < 0 || v > 1 {
							t.Errorf("%s: K-composition %g outside [0, 1]", name, v)
						}
					}
				}
			}
		}
		if got := len(r.Heads); got != m.Cfg.NLayers*m.Cfg.NHeads {
			t.Errorf("%s: %d head labels for %d×%d heads", name, got, m.Cfg.NLayers, m.Cfg.NHeads)
		}
		w := WeightsOf(m)
		_, err = w.QKAt(1, 0, 2)
		if rotary := m.Cfg.PositionalEmbeddingType == transformer.PosRotary; rotary != (err == nil) {
			t.Errorf("%s (rotary %v): QKAt error %v", name, rotary, err)
		}
	}
}
