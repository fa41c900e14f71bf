package transformer

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mechinterp/workbench/tensor"
)

// processTol bounds the change of any log-probability by weight processing:
// the transforms are exact in real arithmetic and done in float64, so only
// float32 rounding of the processed weights and of a different evaluation
// order remains (log-probs here are of magnitude ≤ 10).
const processTol = 2e-4

func logProbs(t *testing.T, m *Model, toks [][]int) []float64 {
	t.Helper()
	logits, err := m.Run(context.Background(), toks, nil)
	if err != nil {
		t.Fatal(err)
	}
	V := logits.Dim(-1)
	out := make([]float64, len(logits.Data))
	for r := 0; r < len(logits.Data)/V; r++ {
		row := logits.Data[r*V : (r+1)*V]
		lse := tensor.LogSumExp(row)
		for j, v := range row {
			out[r*V+j] = float64(v) - lse
		}
	}
	return out
}

func TestWeightProcessingKeepsLogProbs(t *testing.T) {
	type proc struct {
		name string
		f    func(*Model) (*Model, error)
		ok   func(Config) bool
	}
	procs := []proc{
		{"FoldLayerNorm", (*Model).FoldLayerNorm, func(c Config) bool {
			return (c.NormalizationType == NormLN || c.NormalizationType == NormRMS) && c.PositionalEmbeddingType != PosShortformer
		}},
		{"CenterWritingWeights", (*Model).CenterWritingWeights, func(c Config) bool {
			return (c.NormalizationType == NormLN || c.NormalizationType == NormLNPre) && c.PositionalEmbeddingType != PosShortformer
		}},
		{"CenterUnembed", func(m *Model) (*Model, error) { return m.CenterUnembed(), nil }, func(Config) bool { return true }},
		{"FoldValueBiases", func(m *Model) (*Model, error) { return m.FoldValueBiases(), nil }, func(Config) bool { return true }},
		{"ProcessWeights", (*Model).ProcessWeights, func(Config) bool { return true }},
	}
	for name, cfg := range variants() {
		m, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		randomize(m, 11)
		before := append([]float32(nil), m.P.data...)
		toks := randTokens(rand.New(rand.NewPCG(12, 12)), 2, 8, cfg.DVocab)
		want := logProbs(t, m, toks)
		for _, p := range procs {
			got, err := p.f(m)
			if !p.ok(m.Cfg) {
				if err == nil {
					t.Errorf("%s/%s: accepted a config it does not apply to", name, p.name)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s/%s: %v", name, p.name, err)
			}
			lp := logProbs(t, got, toks)
			maxErr := 0.0
			for i := range lp {
				maxErr = math.Max(maxErr, math.Abs(lp[i]-want[i]))
			}
			if maxErr > processTol {
				t.Errorf("%s/%s: log-probs changed by %.3g > %g", name, p.name, maxErr, processTol)
			}
		}
		for i := range before {
			if before[i] != m.P.data[i] {
				t.Fatalf("%s: processing changed the original model", name)
			}
		}
	}
}

func TestFoldLayerNormResult(t *testing.T) {
	m, _ := New(variants()["ln_gelu"])
	randomize(m, 13)
	f, err := m.FoldLayerNorm()
	if err != nil {
		t.Fatal(err)
	}
	if f.Cfg.NormalizationType != NormLNPre || f.P.Blocks[0].LN1W != nil {
		t.Fatalf("folded config %q, ln1.w %v", f.Cfg.NormalizationType, f.P.Blocks[0].LN1W)
	}
	// Columns of the folded W_Q have zero mean over d_model (computed in float64).
	d, n := f.Cfg.DModel, f.Cfg.NHeads*f.Cfg.DHead
	for j := 0; j < n; j++ {
		var s float64
		for i := 0; i < d; i++ {
			s += float64(f.P.Blocks[1].WQ[i*n+j])
		}
		if math.Abs(s/float64(d)) > 1e-7 {
			t.Errorf("W_Q column %d has mean %g after folding", j, s/float64(d))
		}
	}
}
