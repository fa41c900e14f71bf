package lens_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/lens"
	"github.com/mechinterp/workbench/transformer"
)

// exampleModel is a freshly initialised 2-layer model with LayerNorm and
// MLPs.
func exampleModel() *transformer.Model {
	m, err := transformer.New(transformer.Config{
		NLayers: 2, DModel: 16, NHeads: 2, DHead: 8, DMLP: 32, DVocab: 10, NCtx: 8,
		NormalizationType: transformer.NormLN, Seed: 1,
	})
	if err != nil {
		panic(err)
	}
	return m
}

// The logit lens decodes the residual stream at every point; at the final
// residual it is the model itself, so its KL to the final distribution is 0.
func ExampleLogit() {
	m := exampleModel()
	tokens := [][]int{{1, 2, 3, 4, 1, 2, 3, 4}}
	stats, err := lens.Logit(context.Background(), m, tokens, lens.Options{TopK: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range stats {
		fmt.Printf("%-24s KL to final %.3f, %d top token(s) per position\n", s.Label, s.KLToFinal, len(s.Top[0][0]))
	}
	// Output:
	// embed                    KL to final 0.299, 1 top token(s) per position
	// blocks.0.hook_resid_mid  KL to final 0.192, 1 top token(s) per position
	// blocks.0.hook_resid_post KL to final 0.110, 1 top token(s) per position
	// blocks.1.hook_resid_mid  KL to final 0.093, 1 top token(s) per position
	// blocks.1.hook_resid_post KL to final 0.000, 1 top token(s) per position
}

// Training a tuned lens on the model's own data stream brings every
// non-final point closer to the final distribution than the logit lens.
func ExampleTrain() {
	m := exampleModel()
	data := lens.Data{Batch: 4, Pos: 8, Fill: func(dst []int32, rng *rand.Rand) {
		for i := range dst {
			dst[i] = int32(rng.IntN(10))
		}
	}}
	ctx := context.Background()
	tuned, err := lens.Train(ctx, m, data, lens.TrainConfig{Steps: 50, Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	held := [][]int{{3, 1, 4, 1, 5, 9, 2, 6}, {5, 3, 5, 8, 9, 7, 9, 3}}
	logit, _ := lens.Logit(ctx, m, held, lens.Options{})
	tl, _ := tuned.Evaluate(ctx, m, held, lens.Options{})
	for i := range logit[:len(logit)-1] {
		fmt.Printf("%-24s tuned KL below logit KL: %t\n", logit[i].Label, tl[i].KLToFinal < logit[i].KLToFinal)
	}
	// Output:
	// embed                    tuned KL below logit KL: true
	// blocks.0.hook_resid_mid  tuned KL below logit KL: true
	// blocks.0.hook_resid_post tuned KL below logit KL: true
	// blocks.1.hook_resid_mid  tuned KL below logit KL: true
}

// Direct logit attribution: which components write the logit difference
// between tokens 4 and 2 at the last position. At the final residual the
// attributions plus the constant term sum to the model's own logit
// difference.
func ExampleDecomposition_DLA() {
	m := exampleModel()
	tokens := [][]int{{1, 2, 3, 4, 1, 2, 3, 4}}
	ctx := context.Background()
	dc, err := lens.Decompose(ctx, m, tokens, hooks.ResidPost(1))
	if err != nil {
		fmt.Println(err)
		return
	}
	a, err := dc.DLA(m, []int{4}, []int{2})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(a.Labels)
	logits, _ := m.Run(ctx, tokens, nil)
	const last, V = 7, 10
	diff := float64(logits.Data[last*V+4] - logits.Data[last*V+2])
	fmt.Printf("Σ DLA + const equals the logit difference: %t\n", math.Abs(a.Total(0, last)-diff) < 1e-4)
	// Output:
	// [embed pos_embed L0H0 L0H1 0_mlp_out L1H0 L1H1 1_mlp_out bias]
	// Σ DLA + const equals the logit difference: true
}
