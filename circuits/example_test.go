package circuits_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/mechinterp/workbench/circuits"
	"github.com/mechinterp/workbench/tensor"
	"github.com/mechinterp/workbench/transformer"
)

// round prints x to 4 decimals without a "-0.0000".
func round(x float64) float64 { return math.Round(x*1e4)/1e4 + 0 }

func ExampleFactoredMatrix() {
	a := mat.NewDense(3, 2, []float64{
		1, 0,
		0, 1,
		1, 1,
	})
	b := mat.NewDense(2, 3, []float64{
		1, 2, 0,
		0, 1, 1,
	})
	m, err := circuits.NewFactoredMatrix(a, b) // M = A·B, never formed below
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m)
	fmt.Printf("‖M‖_F = %.4f (√18)\n", m.Norm())
	fmt.Println("row 2:", m.Row(nil, 2))
	fmt.Printf("corner:\n%v\n", mat.Formatted(m.Corner(2)))

	// The non-zero eigenvalues of M [3, 3] are those of B·A [2, 2].
	vals, _ := m.Eigenvalues()
	fmt.Printf("eigenvalues: %v, %v\n", round(real(vals[0])), round(real(vals[1])))

	_, s, _, _ := m.SVD()
	fmt.Printf("singular values: %.4f, %.4f\n", s[0], s[1])

	// Products keep the smaller inner dimension.
	mt, _ := m.MulFactored(m.T()) // M·Mᵀ [3, 3], still factored through 2
	fmt.Println(mt)
	// Output:
	// FactoredMatrix [3, 3], inner dim 2
	// ‖M‖_F = 4.2426 (√18)
	// row 2: [1 3 1]
	// corner:
	// ⎡1  2⎤
	// ⎣0  1⎦
	// eigenvalues: 3, 0
	// singular values: 4.1155, 1.0309
	// FactoredMatrix [3, 3], inner dim 2
}

// A two-layer model with one head per layer, d_model 4 and d_head 1, built
// so that the layer-0 head writes to the residual direction that the
// layer-1 head's keys read: perfect K-composition, no Q-composition, and
// V-composition through a value vector half aligned with it.
func ExampleCompositionScores() {
	col := func(x ...float32) *tensor.Tensor { return tensor.FromSlice(x, 4, 1) } // [d_model, d_head]
	row := func(x ...float32) *tensor.Tensor { return tensor.FromSlice(x, 1, 4) } // [d_head, d_model]
	r := float32(1 / math.Sqrt2)
	heads := [][]transformer.HeadWeights{
		{{WQ: col(1, 0, 0, 0), WK: col(0, 1, 0, 0), WV: col(0, 0, 1, 0), WO: row(1, 0, 0, 0)}}, // OV: dim 2 → dim 0
		{{WQ: col(0, 1, 0, 0), WK: col(1, 0, 0, 0), WV: col(r, r, 0, 0), WO: row(0, 0, 0, 1)}}, // keys read dim 0
	}
	c, err := circuits.CompositionScores(context.Background(), heads)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("L0H0 → L1H0: Q %.4f, K %.4f, V %.4f\n", c.Q[0][0][1][0], c.K[0][0][1][0], c.V[0][0][1][0])
	fmt.Printf("L1H0 → L0H0: K %.4f (writer not earlier)\n", c.K[1][0][0][0])

	// Against the baseline for these shapes: 1/√d_model, and sampled.
	b, _ := circuits.RandomBaseline(rand.New(rand.NewPCG(1, 1)), 4, 1, 1000)
	fmt.Printf("baseline: analytic %.2f, sampled %.2f\n", b.Analytic, b.Mean)
	fmt.Printf("K as a multiple of the analytic baseline: %.1f×\n", c.Relative(b.Analytic).K[0][0][1][0])
	// Output:
	// L0H0 → L1H0: Q 0.0000, K 1.0000, V 0.7071
	// L1H0 → L0H0: K 0.0000 (writer not earlier)
	// baseline: analytic 0.50, sampled 0.44
	// K as a multiple of the analytic baseline: 2.0×
}

// A head that copies tokens 0 and 1 and ignores 2 and 3, with identity
// embeddings: its full OV circuit is diag(1, 1, 0, 0).
func ExampleFullOV() {
	id := mat.NewDense(4, 4, nil)
	for i := range 4 {
		id.Set(i, i, 1)
	}
	wV := mat.NewDense(4, 2, []float64{1, 0, 0, 1, 0, 0, 0, 0}) // [d_model, d_head]
	wO := mat.DenseCopyOf(wV.T())                               // [d_head, d_model]
	ov, err := circuits.FullOV(id, wV, wO, id)
	if err != nil {
		fmt.Println(err)
		return
	}
	pos, _ := circuits.EigenPositivity(ov)
	top1, _ := circuits.Top1Diagonal(context.Background(), ov)
	fmt.Printf("eigenvalue positivity %.2f, top-1 diagonal %.2f\n", pos, top1)
	fmt.Println("token 1 boosts:", ov.RowTopK(1, 2))
	// Output:
	// eigenvalue positivity 1.00, top-1 diagonal 0.50
	// token 1 boosts: [{1 1} {0 0}]
}
