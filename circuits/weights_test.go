package circuits

import (
	"errors"
	"fmt"
	"math"
	"math/cmplx"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/mechinterp/workbench/transformer"
)

// tinyModel returns a randomly initialised attention-only model: 2 layers
// of 3 heads, d_model 12, d_head 4, d_vocab 10 (d_vocab_out 9), n_ctx 7.
func tinyModel(t *testing.T, seed uint64) *transformer.Model {
	t.Helper()
	m, err := transformer.New(transformer.Config{
		NLayers: 2, DModel: 12, NHeads: 3, DHead: 4, DVocab: 10, DVocabOut: 9, NCtx: 7,
		AttnOnly: true, Seed: seed, InitRange: 0.5,
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// mul returns the product of the matrices, left to right.
func mul(ms ...mat.Matrix) *mat.Dense {
	out := mat.DenseCopyOf(ms[0])
	for _, m := range ms[1:] {
		var p mat.Dense
		p.Mul(out, m)
		out = &p
	}
	return out
}

func TestHeadsMatchModel(t *testing.T) {
	m := tinyModel(t, 1)
	heads := heads64Of(m)
	if len(heads) != 2 || len(heads[0]) != 3 {
		t.Fatalf("Heads is %d×%d, want 2×3", len(heads), len(heads[0]))
	}
	for l := range 2 {
		for h := range 3 {
			hw := m.Head(l, h)
			for _, c := range []struct {
				name string
				got  *mat.Dense
				want []float32
			}{{"W_Q", heads[l][h].Q, hw.WQ.Data}, {"W_K", heads[l][h].K, hw.WK.Data}, {"W_V", heads[l][h].V, hw.WV.Data}, {"W_O", heads[l][h].O, hw.WO.Data}} {
				for i, v := range c.got.RawMatrix().Data {
					if v != float64(c.want[i]) {
						t.Fatalf("%s %s[%d] = %v, model has %v", HeadLabel(l, h), c.name, i, v, c.want[i])
					}
				}
			}
		}
	}
	w := WeightsOf(m)
	if r, c := w.WU.Dims(); r != 12 || c != 9 {
		t.Errorf("W_U is [%d, %d], want [12, 9]", r, c)
	}
	if r, c := w.WPos.Dims(); r != 7 || c != 12 {
		t.Errorf("W_pos is [%d, %d], want [7, 12]", r, c)
	}
}

func TestCircuitsMatchDense(t *testing.T) {
	m := tinyModel(t, 2)
	w := WeightsOf(m)
	for _, p := range [][4]int{{0, 0, 1, 0}, {0, 2, 1, 1}, {0, 1, 1, 2}} {
		l1, h1, l2, h2 := p[0], p[1], p[2], p[3]
		wr, rd := w.heads[l1][h1], w.heads[l2][h2]
		label := fmt.Sprintf("%s → %s", HeadLabel(l1, h1), HeadLabel(l2, h2))
		qk2 := mul(rd.Q, rd.K.T())
		ov1 := mul(wr.V, wr.O)
		for _, c := range []struct {
			name string
			got  func() (*FactoredMatrix, error)
			want *mat.Dense
		}{
			{"QK", func() (*FactoredMatrix, error) { return w.QK(l2, h2) }, qk2},
			{"OV", func() (*FactoredMatrix, error) { return w.OV(l1, h1) }, ov1},
			{"FullQK", func() (*FactoredMatrix, error) { return w.FullQK(l2, h2) }, mul(w.WE, qk2, w.WE.T())},
			{"PosQK", func() (*FactoredMatrix, error) { return w.PosQK(l2, h2) }, mul(w.WPos, qk2, w.WPos.T())},
			{"FullOV", func() (*FactoredMatrix, error) { return w.FullOV(l1, h1) }, mul(w.WE, ov1, w.WU)},
			{"KComposition", func() (*FactoredMatrix, error) { return w.KComposition(l1, h1, l2, h2) }, mul(w.WE, qk2, ov1.T(), w.WE.T())},
		} {
			f, err := c.got()
			if err != nil {
				t.Fatalf("%s %s: %v", label, c.name, err)
			}
			if f.InnerDim() != 4 {
				t.Errorf("%s %s: inner dimension %d, want d_head 4", label, c.name, f.InnerDim())
			}
			assertClose(t, label+" "+c.name, f.Dense(), c.want, factTol)
		}

		// K-composition positivity against the dense circuit's eigenvalues.
		got, err := w.KCompositionPositivity(l1, h1, l2, h2)
		if err != nil {
			t.Fatal(err)
		}
		if want := densePositivity(t, mul(w.WE, qk2, ov1.T(), w.WE.T())); math.Abs(got-want) > 1e-9 {
			t.Errorf("%s: K-composition positivity %v, dense %v", label, got, want)
		}

		// Row queries are the dense rows' top entries.
		for tok := range 10 {
			att, err := w.TopAttended(l2, h2, tok, 3)
			if err != nil {
				t.Fatal(err)
			}
			if want := TopK(mul(w.WE, qk2, w.WE.T()).RawRowView(tok), 3); !rankedClose(att, want) {
				t.Errorf("%s: TopAttended(%d) = %v, dense %v", label, tok, att, want)
			}
			boost, err := w.TopBoosted(l1, h1, tok, 3)
			if err != nil {
				t.Fatal(err)
			}
			if want := TopK(mul(w.WE, ov1, w.WU).RawRowView(tok), 3); !rankedClose(boost, want) {
				t.Errorf("%s: TopBoosted(%d) = %v, dense %v", label, tok, boost, want)
			}
		}
	}
}

// densePositivity is Σλ/Σ|λ| from a dense eigendecomposition.
func densePositivity(t *testing.T, m *mat.Dense) float64 {
	t.Helper()
	var e mat.Eigen
	if !e.Factorize(m, mat.EigenNone) {
		t.Fatal("eigendecomposition failed")
	}
	var sum, abs float64
	for _, v := range e.Values(nil) {
		sum += real(v)
		abs += cmplx.Abs(v)
	}
	return sum / abs
}

func rankedClose(got, want []Ranked) bool {
	return slices.EqualFunc(got, want, func(a, b Ranked) bool {
		return a.Index == b.Index && math.Abs(a.Value-b.Value) <= factTol*max(1, math.Abs(b.Value))
	})
}

func TestWeightsIndexErrors(t *testing.T) {
	w := WeightsOf(tinyModel(t, 3))
	for name, f := range map[string]func() error{
		"QK layer 2":         func() error { _, err := w.QK(2, 0); return err },
		"OV head -1":         func() error { _, err := w.OV(0, -1); return err },
		"FullQK head 3":      func() error { _, err := w.FullQK(0, 3); return err },
		"PosQK layer -1":     func() error { _, err := w.PosQK(-1, 0); return err },
		"FullOV layer 5":     func() error { _, err := w.FullOV(5, 0); return err },
		"K same layer":       func() error { _, err := w.KComposition(1, 0, 1, 1); return err },
		"K reversed":         func() error { _, err := w.KComposition(1, 0, 0, 1); return err },
		"K positivity range": func() error { _, err := w.KCompositionPositivity(0, 0, 2, 0); return err },
		"attended token 10":  func() error { _, err := w.TopAttended(0, 0, 10, 3); return err },
		"boosted token -1":   func() error { _, err := w.TopBoosted(0, 0, -1, 3); return err },
	} {
		if err := f(); !errors.Is(err, ErrHeadIndex) {
			t.Errorf("%s: error %v, want ErrHeadIndex", name, err)
		}
	}
}
