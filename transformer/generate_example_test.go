package transformer_test

import (
	"context"
	"fmt"

	"github.com/mechinterp/workbench/transformer"
)

// Generate continues prompts of different lengths in one call, greedily
// here; each continuation is what the prompt would get alone. With EOS a
// sequence stops after that token, which it includes.
func ExampleModel_Generate() {
	m, err := transformer.New(transformer.Config{
		NLayers: 2, DModel: 16, NHeads: 2, DHead: 8, DMLP: 32,
		DVocab: 10, NCtx: 16, NormalizationType: transformer.NormLN, Seed: 3,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	prompts := [][]int32{{1, 2, 3, 4}, {7}}
	greedy, err := m.Generate(context.Background(), prompts, transformer.GenerateOptions{MaxNew: 6})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("greedy:", greedy)
	eos := greedy[0][2]
	stopped, err := m.Generate(context.Background(), prompts, transformer.GenerateOptions{MaxNew: 6, EOS: []int32{eos}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("with EOS %d: %v\n", eos, stopped)
	sampled, err := m.Generate(context.Background(), prompts, transformer.GenerateOptions{MaxNew: 6, Temperature: 1, TopP: 0.9, Seed: 42})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("sampled:", len(sampled[0]), len(sampled[1]), "new tokens")
	// Output:
	// greedy: [[1 2 6 6 6 2] [9 0 6 6 2 6]]
	// with EOS 6: [[1 2 6] [9 0 6]]
	// sampled: 6 6 new tokens
}
