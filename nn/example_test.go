package nn_test

import (
	"fmt"

	"github.com/mechinterp/workbench/nn"
)

// A linear layer y = x·W + b on two rows, then its backward pass: the
// gradients accumulate into dW and db, so they are zeroed once per step.
func ExampleLinearForward() {
	const rows, in, out = 2, 3, 2
	x := []float32{ // [rows, in]
		1, 2, 3,
		4, 5, 6,
	}
	w := []float32{ // [in, out]
		1, 0,
		0, 1,
		1, 1,
	}
	b := []float32{0.5, -0.5} // [out]
	y := make([]float32, rows*out)
	nn.LinearForward(y, x, w, b, rows, in, out)
	fmt.Println("y:", y)

	dy := []float32{1, 0, 0, 1} // ∂loss/∂y for loss = y[0,0] + y[1,1]
	dx := make([]float32, rows*in)
	dw := make([]float32, in*out)
	db := make([]float32, out)
	nn.LinearBackward(dx, dw, db, dy, x, w, rows, in, out)
	fmt.Println("dx:", dx)
	fmt.Println("dw:", dw)
	fmt.Println("db:", db)
	// Output:
	// y: [4.5 4.5 10.5 10.5]
	// dx: [1 0 1 0 1 1]
	// dw: [1 4 2 5 3 6]
	// db: [1 1]
}

// The mean next-token loss over the positions that count: the second row has
// weight 0 (padding), so its target is never read. The gradient is
// softmax − one-hot on the counted row and zero elsewhere.
func ExampleCrossEntropyForward() {
	const rows, vocab = 2, 3
	logits := []float32{ // [rows, vocab]
		2, 1, 0,
		0, 0, 0,
	}
	targets := []int32{0, -1}
	weights := []float32{1, 0}
	probs := make([]float32, rows*vocab)
	loss := nn.CrossEntropyForward(probs, logits, targets, weights, rows, vocab)
	fmt.Printf("loss: %.4f\n", loss)

	dlogits := make([]float32, rows*vocab)
	nn.CrossEntropyBackward(dlogits, probs, targets, weights, rows, vocab, 1)
	fmt.Printf("dlogits: %.4f\n", dlogits)
	// Output:
	// loss: 0.4076
	// dlogits: [-0.3348 0.2447 0.0900 0.0000 0.0000 0.0000]
}
