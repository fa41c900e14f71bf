package patching_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/patching"
	"github.com/mechinterp/workbench/transformer"
)

// Patch the residual stream position by position. The corrupted batch
// differs from the clean one at position 1 only, so entering layer 0 only
// that position matters, and patching it restores the clean run exactly.
// Entering layer 1, position 1 still carries nearly all of the difference:
// the metric at the last position reads it there, through layer 1's
// attention. Position 0, which cannot see position 1, never matters.
func ExampleExperiment_Sweep() {
	m, err := transformer.New(transformer.Config{NLayers: 2, DModel: 16, NHeads: 2, DHead: 8, DVocab: 10, NCtx: 8, AttnOnly: true, Seed: 1, InitRange: 1.0})
	if err != nil {
		panic(err)
	}
	clean := [][]int{{1, 2, 3, 4}}
	corrupted := [][]int{{1, 7, 3, 4}}
	metric := patching.LogitDiff{Answer: []int{2}, Wrong: []int{7}, Pos: patching.Last}
	ctx := context.Background()
	e, err := patching.New(ctx, m, clean, corrupted, metric)
	if err != nil {
		panic(err)
	}
	g, err := e.Sweep(ctx, patching.ResidPre, patching.Options{ByPos: true})
	if err != nil {
		panic(err)
	}
	g, err = g.Normalize()
	if err != nil {
		panic(err)
	}
	fmt.Println(g.Axes[1])
	for r, row := range g.Nested().([][]float64) {
		fmt.Print(g.Axes[0][r])
		for _, v := range row {
			fmt.Printf(" %5.2f", v)
		}
		fmt.Println()
	}
	// Output:
	// [pos 0 pos 1 pos 2 pos 3]
	// L0  0.00  1.00  0.00  0.00
	// L1  0.00  1.00  0.00 -0.00
}

// Zero-ablate head 1 of layer 0 in any run by passing the hook set.
func ExampleZeroAblation() {
	m, err := transformer.New(transformer.Config{NLayers: 1, DModel: 8, NHeads: 2, DHead: 4, DVocab: 10, NCtx: 8, AttnOnly: true, Seed: 1})
	if err != nil {
		panic(err)
	}
	ablate, err := patching.ZeroAblation(m, patching.Site{Kind: patching.HeadOut, Layer: 0, Head: 1})
	if err != nil {
		panic(err)
	}
	capture, cache := hooks.Capture(hooks.Names(hooks.Z(0)))
	if _, err := m.Run(context.Background(), [][]int{{1, 2, 3}}, hooks.Merge(ablate, capture)); err != nil {
		panic(err)
	}
	z, _ := cache.Get(hooks.Z(0)) // [batch, pos, head, d_head]
	head := func(h int) []float32 {
		var out []float32
		for p := 0; p < 3; p++ {
			out = append(out, z.Data[(p*2+h)*4:][:4]...)
		}
		return out
	}
	fmt.Println("head 1 zero:", !slices.ContainsFunc(head(1), func(v float32) bool { return v != 0 }))
	fmt.Println("head 0 zero:", !slices.ContainsFunc(head(0), func(v float32) bool { return v != 0 }))
	// Output:
	// head 1 zero: true
	// head 0 zero: false
}

// A grid encodes as nested arrays with its axis labels.
func ExampleGrid_MarshalJSON() {
	g := &patching.Grid{
		What: patching.ResidPre, Metric: "logit-diff", Clean: 2, Corrupted: -1,
		Axes:   [][]string{{"L0", "L1"}, {"pos 0", "pos 1"}},
		Values: []float64{-1, 2, -1, 0.5},
	}
	n, _ := g.Normalize()
	json.NewEncoder(os.Stdout).Encode(n)
	// Output:
	// {"what":"resid_pre","metric":"logit-diff","clean":2,"corrupted":-1,"normalized":true,"axes":[["L0","L1"],["pos 0","pos 1"]],"values":[[0,1],[0,0.5]]}
}

// Normalize puts the clean run at 1 and the corrupted run at 0.
func ExampleNormalize() {
	v, _ := patching.Normalize(1.5, 3, 0)
	fmt.Println(v)
	// Output: 0.5
}
