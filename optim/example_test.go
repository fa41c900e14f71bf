package optim_test

import (
	"fmt"

	"github.com/mechinterp/workbench/optim"
)

// A training step: clip the gradients, take the scheduled learning rate for
// the step about to be made, update, and zero the gradients for the next
// backward pass. On its first step Adam moves every parameter by about lr in
// the direction opposite to its gradient; AdamW also shrinks the weight
// matrix, but not the bias, by the factor 1 − lr·λ.
func ExampleNewAdamW() {
	w := optim.Param{Name: "blocks.0.mlp.W_in", Data: []float32{1, -2}, Grad: []float32{0.5, -4}}
	b := optim.Param{Name: "blocks.0.mlp.b_in", Data: []float32{1}, Grad: []float32{3}}
	w.Decay, b.Decay = optim.DecayByName(w.Name), optim.DecayByName(b.Name)
	params := []optim.Param{w, b}

	opt, err := optim.NewAdamW(params, optim.AdamConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.5})
	if err != nil {
		fmt.Println(err)
		return
	}
	sched := optim.Cosine(0.1, 0, 100, 0.01)

	norm := optim.ClipGradNorm(params, 1)
	opt.Step(sched(opt.Steps())) // lr 0.1; W_in shrinks by 1 − 0.1·0.5 = 0.95
	optim.ZeroGrad(params)

	fmt.Printf("grad norm %.4f, steps %d\n", norm, opt.Steps())
	fmt.Printf("W_in %.4f, b_in %.4f\n", w.Data, b.Data)
	// Output:
	// grad norm 5.0249, steps 1
	// W_in [0.8500 -1.8000], b_in [0.9000]
}

// Learning rates of a warmup-then-cosine schedule at its boundary steps.
func ExampleCosine() {
	sched := optim.Cosine(1e-3, 10, 110, 1e-4)
	for _, step := range []int{0, 9, 10, 60, 110, 200} {
		fmt.Printf("step %3d: lr %.2e\n", step, sched(step))
	}
	// Output:
	// step   0: lr 1.00e-04
	// step   9: lr 1.00e-03
	// step  10: lr 1.00e-03
	// step  60: lr 5.50e-04
	// step 110: lr 1.00e-04
	// step 200: lr 1.00e-04
}

// Clipping scales all gradients together so that their global L2 norm is
// maxNorm (up to PyTorch's 1e-6 guard), and returns the norm before clipping.
func ExampleClipGradNorm() {
	params := []optim.Param{
		{Name: "W_Q", Data: make([]float32, 2), Grad: []float32{3, 0}},
		{Name: "b_Q", Data: make([]float32, 1), Grad: []float32{4}},
	}
	norm := optim.ClipGradNorm(params, 1)
	fmt.Printf("norm before %.1f, grads %.4f %.4f\n", norm, params[0].Grad, params[1].Grad)
	// Output:
	// norm before 5.0, grads [0.6000 0.0000] [0.8000]
}

// The default decay mask on TransformerLens names: weight matrices and
// embeddings decay, biases and LayerNorm parameters do not.
func ExampleDecayByName() {
	for _, name := range []string{"embed.W_E", "blocks.0.attn.W_Q", "blocks.0.attn.b_Q", "blocks.0.ln1.w", "ln_final.b"} {
		fmt.Println(name, optim.DecayByName(name))
	}
	// Output:
	// embed.W_E true
	// blocks.0.attn.W_Q true
	// blocks.0.attn.b_Q false
	// blocks.0.ln1.w false
	// ln_final.b false
}

// Resuming: the state exported after some steps, loaded into a new optimizer
// over the same parameters, continues exactly where the first left off.
func ExampleAdam_LoadState() {
	cfg := optim.AdamConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}
	p := optim.Param{Name: "unembed.W_U", Data: []float32{1}, Grad: []float32{0.5}}
	first, _ := optim.NewAdam([]optim.Param{p}, cfg)
	first.Step(0.01)
	first.Step(0.01)

	// A checkpoint would serialise first.State() and first.Steps() here.
	resumed, _ := optim.NewAdam([]optim.Param{p}, cfg)
	if err := resumed.LoadState(first.Steps(), first.State()); err != nil {
		fmt.Println(err)
		return
	}
	resumed.Step(0.01)
	fmt.Printf("steps %d, W_U %.4f\n", resumed.Steps(), p.Data)

	err := resumed.LoadState(2, []optim.StateTensor{{Name: "adam.m/unembed.W_U", Data: []float32{0, 0}}})
	fmt.Println(err)
	// Output:
	// steps 3, W_U [0.9700]
	// optim: state mismatch: tensor "adam.m/unembed.W_U" has 2 elements, want 1
}
