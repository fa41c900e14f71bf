package circuits_test

import (
	"context"
	"fmt"

	"github.com/mechinterp/workbench/circuits"
	"github.com/mechinterp/workbench/transformer"
)

// prevTokenModel builds, by hand, a one-layer attention-only model whose
// only head attends to the previous position and copies the token there:
// d_model 16 = 12 positional dimensions (W_pos = identity) + 4 token
// dimensions (W_E one-hot); the queries read position i, the keys move
// position j to direction j+1, so query i meets key i−1; W_V·W_O keeps the
// token dimensions and W_U reads them.
func prevTokenModel() *transformer.Model {
	const nCtx, dVocab, d = 12, 4, 16
	m, err := transformer.New(transformer.Config{NLayers: 1, DModel: d, NHeads: 1, DHead: d, DVocab: dVocab, NCtx: nCtx, AttnOnly: true})
	if err != nil {
		panic(err)
	}
	p, b := m.P, &m.P.Blocks[0]
	for _, w := range [][]float32{p.WE, p.WPos, b.WQ, b.WK, b.WV, b.WO, p.WU} {
		clear(w)
	}
	for i := range nCtx {
		p.WPos[i*d+i] = 1
		b.WQ[i*d+i] = 30 // [d_model, d_head]
		if i+1 < nCtx {
			b.WK[i*d+i+1] = 1
		}
	}
	for t := range dVocab {
		p.WE[t*d+nCtx+t] = 1
		b.WV[(nCtx+t)*d+nCtx+t] = 1
		b.WO[(nCtx+t)*d+nCtx+t] = 1
		p.WU[(nCtx+t)*dVocab+t] = 1 // [d_model, d_vocab]
	}
	return m
}

// Scoring heads against TransformerLens's detection patterns: the hand-built
// head puts all its attention on the previous token, except at position 0,
// which can only attend to itself.
func ExampleDetectHead() {
	m := prevTokenModel()
	tokens := [][]int{{0, 1, 2, 3, 0, 1, 2, 3}, {3, 3, 1, 0, 2, 1, 0, 2}}
	ctx := context.Background()
	for _, d := range []struct {
		name string
		det  circuits.DetectionPattern
		opt  circuits.DetectOptions
	}{
		{"previous-token, mul", circuits.PrevTokenPattern, circuits.DetectOptions{}},
		{"previous-token, mul, exclude BOS", circuits.PrevTokenPattern, circuits.DetectOptions{ExcludeBOS: true}},
		{"previous-token, abs", circuits.PrevTokenPattern, circuits.DetectOptions{Measure: circuits.Abs}},
		{"induction, mul", circuits.InductionPattern, circuits.DetectOptions{}},
	} {
		scores, err := circuits.DetectHead(ctx, m, tokens, d.det, d.opt)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%-34s L0H0 %.2f\n", d.name, scores[0][0])
	}
	// Output:
	// previous-token, mul                L0H0 0.87
	// previous-token, mul, exclude BOS   L0H0 1.00
	// previous-token, abs                L0H0 0.87
	// induction, mul                     L0H0 0.00
}

// The induction pattern of a repeated sequence: each token of the second
// half looks for the token that followed its first occurrence.
func ExampleInductionPattern() {
	p := circuits.InductionPattern([]int{5, 6, 7, 5, 6, 7})
	r, _ := p.Dims()
	for i := range r {
		fmt.Println(p.RawRowView(i))
	}
	// Output:
	// [0 0 0 0 0 0]
	// [0 0 0 0 0 0]
	// [0 0 0 0 0 0]
	// [0 1 0 0 0 0]
	// [0 0 1 0 0 0]
	// [0 0 0 1 0 0]
}

// Reading the hand-built head from its weights alone: the positional QK
// circuit sends each query to the previous position, and the full OV
// circuit maps every token to itself.
func ExampleWeights() {
	w := circuits.WeightsOf(prevTokenModel())
	pos, err := w.PosQK(0, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("positional QK:", pos)
	for _, q := range []int{3, 7} {
		fmt.Printf("position %d attends most to position %d\n", q, pos.RowTopK(q, 1)[0].Index)
	}
	boosted, _ := w.TopBoosted(0, 0, 2, 2)
	fmt.Println("attending to token 2 boosts:", boosted)
	ov, _ := w.FullOV(0, 0)
	positivity, _ := circuits.EigenPositivity(ov)
	fmt.Printf("full OV eigenvalue positivity %.2f\n", positivity)
	// Output:
	// positional QK: FactoredMatrix [12, 12], inner dim 16
	// position 3 attends most to position 2
	// position 7 attends most to position 6
	// attending to token 2 boosts: [{2 1} {0 0}]
	// full OV eigenvalue positivity 1.00
}

// Analyze names the hand-built head: it attends to the previous token and
// copies what it finds there.
func ExampleAnalyze() {
	r, err := circuits.Analyze(context.Background(), prevTokenModel(), circuits.AnalyzeOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Heads)
	fmt.Printf("repeated-token sequences: %d of %d tokens × %d\n", r.Repeated.Sequences, r.Repeated.Block, r.Repeated.Repeats)
	for _, h := range r.PrevTokenHeads {
		fmt.Printf("previous-token head %s: %.2f\n", h.Label, h.Score)
	}
	for _, h := range r.CopyingHeads {
		fmt.Printf("copying head %s: %.2f\n", h.Label, h.Score)
	}
	fmt.Println("induction heads:", len(r.InductionHeads))
	fmt.Println(r)
	// Output:
	// [L0H0]
	// repeated-token sequences: 32 of 3 tokens × 4
	// previous-token head L0H0: 0.91
	// copying head L0H0: 1.00
	// induction heads: 0
	// circuits report: 1 layers × 1 heads, 1 previous-token, 0 induction, 1 copying heads
}
