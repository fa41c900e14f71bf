package circuits

import (
	"cmp"
	"context"
	"errors"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func TestFullOVAndPositivity(t *testing.T) {
	const seed = 31
	rng := rand.New(rand.NewPCG(seed, seed))
	const dVocab, dModel, dHead = 30, 12, 4
	wE, wU := gaussDense(rng, dVocab, dModel, 1), gaussDense(rng, dModel, dVocab, 1)
	wV, wO := gaussDense(rng, dModel, dHead, 1), gaussDense(rng, dHead, dModel, 1)
	ov, err := FullOV(wE, wV, wO, wU)
	if err != nil {
		t.Fatal(err)
	}
	var ev, evo, want mat.Dense
	ev.Mul(wE, wV)
	evo.Mul(&ev, wO)
	want.Mul(&evo, wU)
	assertClose(t, "FullOV", ov.Dense(), &want, factTol)
	if ov.InnerDim() != dHead {
		t.Errorf("FullOV inner dim %d, want d_head %d", ov.InnerDim(), dHead)
	}

	got, err := EigenPositivity(ov)
	if err != nil {
		t.Fatal(err)
	}
	var e mat.Eigen
	e.Factorize(&want, mat.EigenNone)
	var abs float64
	for _, v := range e.Values(nil) {
		abs += cmplx.Abs(v)
	}
	if w := mat.Trace(&want) / abs; math.Abs(got-w) > 1e-9 {
		t.Errorf("seed %d: EigenPositivity = %v, want trace/Σ|λ| = %v from the dense matrix", seed, got, w)
	}

	// A copying head (W_O = W_Vᵀ, W_U = W_Eᵀ) is positive semi-definite:
	// positivity 1; negating W_O gives -1.
	copyOV, _ := FullOV(wE, wV, mat.DenseCopyOf(wV.T()), mat.DenseCopyOf(wE.T()))
	if p, _ := EigenPositivity(copyOV); math.Abs(p-1) > 1e-12 {
		t.Errorf("copying head: positivity %v, want 1", p)
	}
	if p, _ := EigenPositivity(copyOV.Scale(-1)); math.Abs(p+1) > 1e-12 {
		t.Errorf("anti-copying head: positivity %v, want -1", p)
	}

	if _, err := FullOV(wE, wV, wO, gaussDense(rng, dModel+1, dVocab, 1)); !errors.Is(err, mat.ErrShape) {
		t.Errorf("FullOV with a mismatched W_U: error %v, want mat.ErrShape", err)
	}
}

// denseTop1 is the definition: the fraction of rows whose first argmax is
// the diagonal.
func denseTop1(m *mat.Dense) float64 {
	r, _ := m.Dims()
	hits := 0
	for i := range r {
		row := m.RawRowView(i)
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		if best == i {
			hits++
		}
	}
	return float64(hits) / float64(r)
}

func TestTop1Diagonal(t *testing.T) {
	for _, tc := range []struct{ dVocab, dModel, dHead int }{
		{5, 3, 2},
		{70, 8, 3},     // more than one row block
		{1100, 16, 5},  // more than one column chunk, nothing a multiple of 8
		{2056, 24, 16}, // full tiles and edges
	} {
		seed := uint64(tc.dVocab)
		rng := rand.New(rand.NewPCG(seed, seed))
		wE := gaussDense(rng, tc.dVocab, tc.dModel, 1)
		// A noisy copying head, so that the answer is neither 0 nor 1.
		wV := gaussDense(rng, tc.dModel, tc.dHead, 1)
		wO := mat.DenseCopyOf(wV.T())
		wO.Add(wO, gaussDense(rng, tc.dHead, tc.dModel, 0.5))
		ov, err := FullOV(wE, wV, wO, mat.DenseCopyOf(wE.T()))
		if err != nil {
			t.Fatal(err)
		}
		got, err := Top1Diagonal(context.Background(), ov)
		if err != nil {
			t.Fatal(err)
		}
		if want := denseTop1(ov.Dense()); got != want {
			t.Errorf("seed %d, %+v: Top1Diagonal = %v, want %v", seed, tc, got, want)
		}
	}
	// Ties go to the first maximum: a zero matrix scores only row 0.
	zero, _ := NewFactoredMatrix(mat.NewDense(4, 1, nil), mat.NewDense(1, 4, nil))
	if got, _ := Top1Diagonal(context.Background(), zero); got != 0.25 {
		t.Errorf("zero matrix: Top1Diagonal = %v, want 0.25", got)
	}
	rect, _ := NewFactoredMatrix(mat.NewDense(4, 1, nil), mat.NewDense(1, 5, nil))
	if _, err := Top1Diagonal(context.Background(), rect); !errors.Is(err, mat.ErrSquare) {
		t.Errorf("Top1Diagonal of [4, 5]: error %v, want mat.ErrSquare", err)
	}
}

func TestTopK(t *testing.T) {
	x := []float64{3, math.NaN(), 7, 7, -1, 5, 7, 0}
	for _, tc := range []struct {
		k    int
		want []Ranked
	}{
		{0, nil},
		{1, []Ranked{{2, 7}}},
		{4, []Ranked{{2, 7}, {3, 7}, {6, 7}, {5, 5}}},
		{20, []Ranked{{2, 7}, {3, 7}, {6, 7}, {5, 5}, {0, 3}, {7, 0}, {4, -1}}},
	} {
		if got := TopK(x, tc.k); !slices.Equal(got, tc.want) {
			t.Errorf("TopK(%v, %d) = %v, want %v", x, tc.k, got, tc.want)
		}
	}
	const seed = 9
	rng := rand.New(rand.NewPCG(seed, seed))
	m := randFactored(t, rng, [3]int{6, 3, 200})
	for i := range 6 {
		row := m.Dense().RawRowView(i)
		want := make([]Ranked, len(row))
		for j, v := range row {
			want[j] = Ranked{j, v}
		}
		slices.SortFunc(want, func(a, b Ranked) int { return cmp.Or(cmp.Compare(b.Value, a.Value), cmp.Compare(a.Index, b.Index)) })
		got := m.RowTopK(i, 10)
		for j := range got {
			if got[j].Index != want[j].Index || math.Abs(got[j].Value-want[j].Value) > factTol {
				t.Fatalf("seed %d: RowTopK(%d, 10) = %v, want %v", seed, i, got, want[:10])
			}
		}
	}
}
