package cnn_test

import (
	"context"
	"fmt"

	"github.com/mechinterp/workbench/cnn"
)

// Integrated gradients of a class logit from a black baseline: the
// attributions add up to the change of the logit along the path
// (completeness), up to the error of the Riemann sum.
func ExampleModel_IntegratedGradients() {
	m, err := cnn.New(cnn.Classifier())
	if err != nil {
		panic(err)
	}
	image := make([]float32, 28*28) // [1, 28, 28]: a bright square
	for y := 8; y < 20; y++ {
		for x := 8; x < 20; x++ {
			image[y*28+x] = 1
		}
	}
	a, err := m.IntegratedGradients(context.Background(), image, 3, cnn.IGOptions{Steps: 256}, nil)
	if err != nil {
		panic(err)
	}
	var outside float64 // attribution to the black pixels, where x = x′
	for i, v := range a.Map {
		if image[i] == 0 {
			outside += float64(v)
		}
	}
	fmt.Println("attributions:", len(a.Map))
	fmt.Println("zero outside the square:", outside == 0)
	fmt.Println("Σ IG ≈ f(x) − f(x′):", a.CompletenessError() < 1e-3)
	// Output:
	// attributions: 784
	// zero outside the square: true
	// Σ IG ≈ f(x) − f(x′): true
}
