package transformer_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/transformer"
)

// A first program: build a small model and save it, load it back as a
// user loads any checkpoint, run it on one sequence while caching the
// layer-1 attention pattern, and read one attention weight.
func Example() {
	built, err := transformer.New(transformer.Config{
		NLayers: 2, DModel: 16, NHeads: 2, DHead: 8,
		DVocab: 10, NCtx: 8, AttnOnly: true, Seed: 1,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "model.safetensors")
	if err := built.Save(path, nil); err != nil { // the config travels in the file's metadata
		fmt.Println(err)
		return
	}
	m, err := transformer.Load(path) // a .safetensors file or a run folder
	if err != nil {
		fmt.Println(err)
		return
	}
	tokens := [][]int{{3, 1, 4, 1, 5, 9}} // [batch 1][pos 6]
	set, cache := hooks.Capture(hooks.Names(hooks.Pattern(1)))
	logits, err := m.Run(context.Background(), tokens, set)
	if err != nil {
		fmt.Println(err)
		return
	}
	pattern, _ := cache.Get(hooks.Pattern(1)) // [batch, head, query_pos, key_pos]
	fmt.Println("logits", logits.Shape)
	fmt.Println("pattern", pattern.Shape)

	// The first position can only attend to itself: its weight is exactly 1.
	fmt.Println("L1H1 query 0 → key 0:", pattern.At(0, 1, 0, 0))

	// Causal: query 2 puts no weight on the later key 3, and its row sums to 1.
	var sum float32
	for _, w := range pattern.Row(0, 1, 2) {
		sum += w
	}
	fmt.Printf("query 2 → key 3: %v, row sum %.3f\n", pattern.At(0, 1, 2, 3), sum)
	// Output:
	// logits [1 6 10]
	// pattern [1 2 6 6]
	// L1H1 query 0 → key 0: 1
	// query 2 → key 3: 0, row sum 1.000
}
