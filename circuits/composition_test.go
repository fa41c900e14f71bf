package circuits

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/mechinterp/workbench/transformer"
)

// fastTol is the agreement required between the fast composition scores
// and the dense formula: both are exact up to rounding in float64, the fast
// path summing d_model² products in another order.
const fastTol = 1e-9

func gaussDense(rng *rand.Rand, r, c int, scale float64) *mat.Dense {
	d := make([]float64, r*c)
	for i := range d {
		d[i] = scale * rng.NormFloat64()
	}
	return mat.NewDense(r, c, d)
}

// randomHeads returns Gaussian weights for nLayers×nHeads heads.
func randomHeads(rng *rand.Rand, nLayers, nHeads, dModel, dHead int) [][]head64 {
	heads := make([][]head64, nLayers)
	s := 1 / math.Sqrt(float64(dModel))
	for l := range heads {
		heads[l] = make([]head64, nHeads)
		for h := range heads[l] {
			heads[l][h] = head64{
				Q: gaussDense(rng, dModel, dHead, s), K: gaussDense(rng, dModel, dHead, s),
				V: gaussDense(rng, dModel, dHead, s), O: gaussDense(rng, dHead, dModel, s),
			}
		}
	}
	return heads
}

// naiveComposition is the definition, in dense d_model×d_model matrices.
func naiveComposition(heads [][]head64) *Composition {
	L, H := len(heads), len(heads[0])
	out := newComposition(L, H)
	dense := func(a, b mat.Matrix) *mat.Dense {
		var c mat.Dense
		c.Mul(a, b)
		return &c
	}
	score := func(a, b *mat.Dense) float64 {
		return mat.Norm(dense(a, b), 2) / (mat.Norm(a, 2) * mat.Norm(b, 2))
	}
	for l1 := range L {
		for h1 := range H {
			ov1 := dense(heads[l1][h1].V, heads[l1][h1].O)
			for l2 := l1 + 1; l2 < L; l2++ {
				for h2 := range H {
					w := heads[l2][h2]
					qk := dense(w.Q, w.K.T())
					out.Q[l1][h1][l2][h2] = score(ov1, qk)
					out.K[l1][h1][l2][h2] = score(ov1, mat.DenseCopyOf(qk.T()))
					out.V[l1][h1][l2][h2] = score(ov1, dense(w.V, w.O))
				}
			}
		}
	}
	return out
}

func compareComposition(t *testing.T, label string, got, want *Composition, tol float64) {
	t.Helper()
	g, w := got.modes(), want.modes()
	for m, name := range []string{"Q", "K", "V"} {
		for l1 := range w[m] {
			for h1 := range w[m][l1] {
				for l2 := range w[m][l1][h1] {
					for h2, wv := range w[m][l1][h1][l2] {
						gv := g[m][l1][h1][l2][h2]
						if math.Abs(gv-wv) > tol*math.Abs(wv) || (wv == 0) != (gv == 0) {
							t.Fatalf("%s: %s[%d][%d][%d][%d] = %.17g, want %.17g", label, name, l1, h1, l2, h2, gv, wv)
						}
					}
				}
			}
		}
	}
}

func TestCompositionScoresMatchDense(t *testing.T) {
	for _, tc := range []struct{ nLayers, nHeads, dModel, dHead int }{
		{2, 1, 8, 2},
		{2, 4, 64, 16}, // the parity models' shape
		{3, 3, 20, 7},  // nothing a multiple of 4 or 8
		{4, 2, 16, 16}, // d_head = d_model: full-rank circuits
		{3, 5, 12, 20}, // d_head > d_model: singular Gram matrices
		{2, 6, 40, 1},  // rank-one circuits
		{5, 4, 33, 9},
	} {
		seed := uint64(100 + tc.nLayers*tc.nHeads*tc.dModel + tc.dHead)
		rng := rand.New(rand.NewPCG(seed, seed))
		heads := randomHeads(rng, tc.nLayers, tc.nHeads, tc.dModel, tc.dHead)
		got, err := compositionScores(context.Background(), heads)
		if err != nil {
			t.Fatalf("%+v: %v", tc, err)
		}
		compareComposition(t, fmt.Sprintf("seed %d, %+v", seed, tc), got, naiveComposition(heads), fastTol)
	}
}

func TestCompositionScoreMatchesDense(t *testing.T) {
	const seed = 7
	rng := rand.New(rand.NewPCG(seed, seed))
	heads := randomHeads(rng, 2, 2, 24, 5)
	want := naiveComposition(heads)
	for h1 := range 2 {
		for h2 := range 2 {
			ov1, err := heads[0][h1].OV()
			if err != nil {
				t.Fatal(err)
			}
			qk, err := heads[1][h2].QK()
			if err != nil {
				t.Fatal(err)
			}
			ov2, err := heads[1][h2].OV()
			if err != nil {
				t.Fatal(err)
			}
			for m, right := range []*FactoredMatrix{qk, qk.T(), ov2} {
				got, err := CompositionScore(ov1, right)
				if err != nil {
					t.Fatal(err)
				}
				if w := want.modes()[m][0][h1][1][h2]; math.Abs(got-w) > fastTol*w {
					t.Errorf("seed %d: CompositionScore mode %d, heads %d→%d = %v, want %v", seed, m, h1, h2, got, w)
				}
			}
		}
	}
}

func TestCompositionScoresInvariants(t *testing.T) {
	const seed = 11
	rng := rand.New(rand.NewPCG(seed, seed))
	heads := randomHeads(rng, 4, 3, 16, 4)
	c, err := compositionScores(context.Background(), heads)
	if err != nil {
		t.Fatal(err)
	}
	for m, g := range c.modes() {
		for l1 := range 4 {
			for h1 := range 3 {
				for l2 := range 4 {
					for h2 := range 3 {
						v := g[l1][h1][l2][h2]
						if l1 >= l2 && v != 0 {
							t.Errorf("mode %d: [%d][%d][%d][%d] = %v, want 0 (writer not earlier)", m, l1, h1, l2, h2, v)
						}
						if l1 < l2 && !(v > 0 && v <= 1) {
							t.Errorf("mode %d: [%d][%d][%d][%d] = %v, want in (0, 1]", m, l1, h1, l2, h2, v)
						}
					}
				}
			}
		}
	}
	// Scaling a head's weights leaves its scores unchanged.
	scaled := randomHeadsCopy(heads)
	scaled[1][2].V.Scale(3, scaled[1][2].V)
	scaled[2][0].K.Scale(-0.5, scaled[2][0].K)
	c2, err := compositionScores(context.Background(), scaled)
	if err != nil {
		t.Fatal(err)
	}
	compareComposition(t, "scaled heads", c2, c, fastTol)
	// The same bits whatever the number of workers.
	c1 := withProcs(1, func() *Composition {
		c, err := compositionScores(context.Background(), heads)
		if err != nil {
			t.Fatal(err)
		}
		return c
	})
	compareComposition(t, "GOMAXPROCS=1", c1, c, 0)
}

func randomHeadsCopy(heads [][]head64) [][]head64 {
	out := make([][]head64, len(heads))
	for l := range heads {
		for _, w := range heads[l] {
			out[l] = append(out[l], head64{
				Q: mat.DenseCopyOf(w.Q), K: mat.DenseCopyOf(w.K), V: mat.DenseCopyOf(w.V), O: mat.DenseCopyOf(w.O),
			})
		}
	}
	return out
}

func TestCompositionScoresZeroHead(t *testing.T) {
	const seed = 12
	rng := rand.New(rand.NewPCG(seed, seed))
	heads := randomHeads(rng, 2, 2, 8, 2)
	heads[0][1].V.Zero() // OV = 0: Gram matrix singular, norm 0
	c, err := compositionScores(context.Background(), heads)
	if err != nil {
		t.Fatal(err)
	}
	for m, g := range c.modes() {
		if v := g[0][1][1][0]; v != 0 {
			t.Errorf("mode %d: score of a zero OV = %v, want 0", m, v)
		}
		if v := g[0][0][1][0]; v == 0 || math.IsNaN(v) {
			t.Errorf("mode %d: score of a live head = %v, want non-zero", m, v)
		}
	}
}

func TestCompositionScoresErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	good := func() [][]head64 { return randomHeads(rng, 2, 2, 8, 2) }
	for _, tc := range []struct {
		name  string
		heads func() [][]head64
		want  error
	}{
		{"no layers", func() [][]head64 { return nil }, mat.ErrZeroLength},
		{"ragged layers", func() [][]head64 { h := good(); h[1] = h[1][:1]; return h }, mat.ErrShape},
		{"missing W_O", func() [][]head64 { h := good(); h[1][0].O = nil; return h }, mat.ErrZeroLength},
		{"wrong d_head", func() [][]head64 { h := good(); h[1][1].K = mat.NewDense(8, 3, nil); return h }, mat.ErrShape},
		{"W_O not transposed", func() [][]head64 { h := good(); h[0][1].O = mat.NewDense(8, 2, nil); return h }, mat.ErrShape},
	} {
		_, err := compositionScores(context.Background(), tc.heads())
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: error %v, want one wrapping %v", tc.name, err, tc.want)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := compositionScores(ctx, good()); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: error %v, want context.Canceled", err)
	}
}

func TestHeadWeightsErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	w := randomHeads(rng, 1, 1, 6, 2)[0][0]
	bad := w
	bad.K = nil
	if _, err := bad.QK(); !errors.Is(err, mat.ErrZeroLength) {
		t.Errorf("QK without W_K: error %v, want mat.ErrZeroLength", err)
	}
	bad = w
	bad.O = gaussDense(rng, 3, 6, 1)
	if _, err := bad.OV(); !errors.Is(err, mat.ErrShape) {
		t.Errorf("OV with W_O [3, 6] after W_V [6, 2]: error %v, want mat.ErrShape", err)
	}
}

func TestRelativeAndLabels(t *testing.T) {
	c := newComposition(2, 1)
	c.K[0][0][1][0] = 0.25
	r := c.Relative(0.125)
	if got := r.K[0][0][1][0]; got != 2 {
		t.Errorf("Relative: %v, want 2", got)
	}
	if c.K[0][0][1][0] != 0.25 {
		t.Errorf("Relative modified its receiver")
	}
	if got, want := fmt.Sprint(HeadLabels(2, 2)), "[L0H0 L0H1 L1H0 L1H1]"; got != want {
		t.Errorf("HeadLabels(2, 2) = %s, want %s", got, want)
	}
}

func TestRandomBaseline(t *testing.T) {
	const seed = 5
	rng := rand.New(rand.NewPCG(seed, seed))
	b, err := RandomBaseline(rng, 64, 16, 200)
	if err != nil {
		t.Fatal(err)
	}
	if b.Analytic != 0.125 {
		t.Errorf("Analytic = %v, want 1/√64", b.Analytic)
	}
	// The sampled mean sits near 1/√d_model: 200 samples pin it to about
	// Std/√200 ≈ 0.5% here, the ratio of norms (not of expectations) differs
	// from 1/√d_model by a few percent at most at these sizes.
	if math.Abs(b.Mean-b.Analytic) > 0.05*b.Analytic || b.Std <= 0 || b.Std > 0.5*b.Analytic {
		t.Errorf("seed %d: baseline %+v, want mean within 5%% of %v and a small spread", seed, b, b.Analytic)
	}
	rng2 := rand.New(rand.NewPCG(seed, seed))
	if b2, _ := RandomBaseline(rng2, 64, 16, 200); b2 != b {
		t.Errorf("same seed, different baselines: %+v, %+v", b, b2)
	}
	if _, err := RandomBaseline(rng, 0, 16, 1); !errors.Is(err, mat.ErrZeroLength) {
		t.Errorf("d_model 0: error %v, want mat.ErrZeroLength", err)
	}
}

// TestCompositionScoresOfModelHeads feeds transformer.Model.Heads, the one
// head-weights type, to CompositionScores and checks it against the
// definition on the same weights, and that malformed heads are errors.
func TestCompositionScoresOfModelHeads(t *testing.T) {
	m := tinyModel(t, 21)
	got, err := CompositionScores(context.Background(), m.Heads())
	if err != nil {
		t.Fatal(err)
	}
	compareComposition(t, "model heads", got, naiveComposition(heads64Of(m)), 1e-9)

	for _, tc := range []struct {
		name string
		edit func(h *transformer.HeadWeights)
		want error
	}{
		{"nil W_K", func(h *transformer.HeadWeights) { h.WK = nil }, mat.ErrZeroLength},
		{"3-D W_O", func(h *transformer.HeadWeights) { h.WO = h.WO.Reshape(1, h.WO.Shape[0], h.WO.Shape[1]) }, mat.ErrShape},
		{"transposed W_Q", func(h *transformer.HeadWeights) { h.WQ = h.WQ.Reshape(h.WQ.Shape[1], h.WQ.Shape[0]) }, mat.ErrShape},
	} {
		heads := m.Heads()
		tc.edit(&heads[1][0])
		if _, err := CompositionScores(context.Background(), heads); !errors.Is(err, tc.want) {
			t.Errorf("%s: error %v, want one wrapping %v", tc.name, err, tc.want)
		}
	}
}
