package cnn_test

import (
	"context"
	"fmt"

	"github.com/mechinterp/workbench/cnn"
	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
)

// Cache BatchNorm's normalised activations while zero-ablating three units of
// the first convolution, then read the logits: hooks are values passed per
// call, so the model itself is untouched.
func Example() {
	m, err := cnn.New(cnn.Classifier())
	if err != nil {
		panic(err)
	}
	images := tensor.New(2, 1, 28, 28) // [batch, channel, height, width]
	for i := range images.Data {
		images.Data[i] = float32(i%28) / 28
	}

	ablate, err := m.EditHook("conv1.hook_out", cnn.Edit{A: cnn.UnitMask(16, 0, 1, 2), R: cnn.Zero()})
	if err != nil {
		panic(err)
	}
	capture, cache := hooks.Capture(hooks.Names("conv1.hook_out", "bn2.hook_normalized"))
	hs := hooks.Merge(hooks.NewSet().Add("conv1.hook_out", ablate), capture)

	logits, err := m.Run(context.Background(), images, hs)
	if err != nil {
		panic(err)
	}
	conv1, _ := cache.Get("conv1.hook_out")
	xhat, _ := cache.Get("bn2.hook_normalized")
	fmt.Println("logits:", logits.Shape)
	fmt.Println("conv1.hook_out:", conv1.Shape, "unit 1 at (5, 5):", conv1.Data[1*28*28+5*28+5])
	fmt.Println("bn2.hook_normalized:", xhat.Shape)
	// Output:
	// logits: [2 10]
	// conv1.hook_out: [2 16 28 28] unit 1 at (5, 5): 0
	// bn2.hook_normalized: [2 32 14 14]
}

// Mean-ablate a residual block's branch: every unit of F(x) is replaced by
// its mean over the batch and all pixels, so the block computes
// ReLU(mean F + x) and whatever F detects no longer reaches later layers.
func ExampleNewEdit() {
	m, err := cnn.New(cnn.ResNet(cnn.BlockBasic, 1, 1))
	if err != nil {
		panic(err)
	}
	shape, _ := m.PointShape("layer1.0.hook_branch")
	edit, err := cnn.NewEdit(shape, cnn.Edit{A: ones(shape[0]), R: cnn.BatchMean()})
	if err != nil {
		panic(err)
	}
	hs := hooks.NewSet().Add("layer1.0.hook_branch", edit)
	capture, cache := hooks.Capture(hooks.Names("layer1.0.hook_branch"))
	images := tensor.New(4, 1, 28, 28)
	for i := range images.Data {
		images.Data[i] = float32(i%97) / 97
	}
	if _, err := m.Run(context.Background(), images, hooks.Merge(hs, capture)); err != nil {
		panic(err)
	}
	branch, _ := cache.Get("layer1.0.hook_branch")
	per := shape[1] * shape[2]
	same := true
	for c := range shape[0] {
		v := branch.Data[c*per]
		for b := range 4 {
			for _, u := range branch.Data[(b*shape[0]+c)*per : (b*shape[0]+c+1)*per] {
				same = same && u == v
			}
		}
	}
	fmt.Println("branch shape:", shape, "constant per unit:", same)
	// Output:
	// branch shape: [16 28 28] constant per unit: true
}

func ones(n int) []float32 {
	a := make([]float32, n)
	for i := range a {
		a[i] = 1
	}
	return a
}
