package main

import (
	"context"
	"math"
	"math/rand/v2"

	"github.com/mechinterp/workbench/data"
	"github.com/mechinterp/workbench/nn"
	"github.com/mechinterp/workbench/optim"
)

// The small real model: a multilayer perceptron that classifies 2-D points by
// the mode of a Gaussian mixture they came from (data.Grid: a grid of
// overlapping Gaussians, so that even the Bayes classifier errs).
//
//	x [batch, 2] → ReLU(x·W1 + b1) [batch, H] → ReLU(·W2 + b2) [batch, H] → ·W3 + b3 [batch, classes]
//
// trained with cross-entropy on a fixed training set, evaluated on a held-out
// set from the same mixture.

// mlp is the model: parameters and gradients in one allocation each, and
// activations for the largest batch.
type mlp struct {
	in, hidden, classes, maxBatch int
	params, grads                 []float32
	w1, b1, w2, b2, w3, b3        []float32 // views of params
	dw1, db1, dw2, db2, dw3, db3  []float32 // views of grads
	pre1, h1, pre2, h2, logits    []float32 // [maxBatch, ·]
	dh1, dpre1, dh2, dpre2, dlog  []float32
}

func newMLP(in, hidden, classes, maxBatch int, rng *rand.Rand) *mlp {
	m := &mlp{in: in, hidden: hidden, classes: classes, maxBatch: maxBatch}
	sizes := []int{in * hidden, hidden, hidden * hidden, hidden, hidden * classes, classes}
	total := 0
	for _, s := range sizes {
		total += s
	}
	m.params, m.grads = make([]float32, total), make([]float32, total)
	views := func(buf []float32) [][]float32 {
		out := make([][]float32, len(sizes))
		off := 0
		for i, s := range sizes {
			out[i] = buf[off : off+s : off+s]
			off += s
		}
		return out
	}
	p, g := views(m.params), views(m.grads)
	m.w1, m.b1, m.w2, m.b2, m.w3, m.b3 = p[0], p[1], p[2], p[3], p[4], p[5]
	m.dw1, m.db1, m.dw2, m.db2, m.dw3, m.db3 = g[0], g[1], g[2], g[3], g[4], g[5]
	// Kaiming-normal weights for ReLU layers; biases start at 0.
	for _, w := range []struct {
		w   []float32
		fan int
	}{{m.w1, in}, {m.w2, hidden}, {m.w3, hidden}} {
		std := math.Sqrt(2 / float64(w.fan))
		for i := range w.w {
			w.w[i] = float32(std * rng.NormFloat64())
		}
	}
	act := func(width int) []float32 { return make([]float32, maxBatch*width) }
	m.pre1, m.h1, m.pre2, m.h2, m.logits = act(hidden), act(hidden), act(hidden), act(hidden), act(classes)
	m.dh1, m.dpre1, m.dh2, m.dpre2, m.dlog = act(hidden), act(hidden), act(hidden), act(hidden), act(classes)
	return m
}

// optimParams lists the parameters for an optimizer: weights decay when
// decayWeights is set, biases when decayBiases is set.
func (m *mlp) optimParams(decayWeights, decayBiases bool) []optim.Param {
	return []optim.Param{
		{Name: "W1", Data: m.w1, Grad: m.dw1, Decay: decayWeights}, {Name: "b1", Data: m.b1, Grad: m.db1, Decay: decayBiases},
		{Name: "W2", Data: m.w2, Grad: m.dw2, Decay: decayWeights}, {Name: "b2", Data: m.b2, Grad: m.db2, Decay: decayBiases},
		{Name: "W3", Data: m.w3, Grad: m.dw3, Decay: decayWeights}, {Name: "b3", Data: m.b3, Grad: m.db3, Decay: decayBiases},
	}
}

// region: mlp

// loss runs the model on x [batch, 2] and returns the mean cross-entropy
// against labels; with backward set it also writes the gradient.
func (m *mlp) loss(x []float32, labels []int32, backward bool) float64 {
	B, H, C := len(labels), m.hidden, m.classes
	pre1, h1, pre2, h2, logits := m.pre1[:B*H], m.h1[:B*H], m.pre2[:B*H], m.h2[:B*H], m.logits[:B*C]
	nn.LinearForward(pre1, x, m.w1, m.b1, B, m.in, H) // [batch, H]
	nn.ReLUForward(h1, pre1)
	nn.LinearForward(pre2, h1, m.w2, m.b2, B, H, H) // [batch, H]
	nn.ReLUForward(h2, pre2)
	nn.LinearForward(logits, h2, m.w3, m.b3, B, H, C) // [batch, classes]
	probs := m.dlog[:B*C]                             // softmax, kept for backward
	loss := nn.CrossEntropyForward(probs, logits, labels, nil, B, C)
	if !backward {
		return loss
	}
	dlog, dh2, dpre2, dh1, dpre1 := m.logits[:B*C], m.dh2[:B*H], m.dpre2[:B*H], m.dh1[:B*H], m.dpre1[:B*H]
	clear(m.grads)
	clear(dlog) // the logits are not needed any more: their buffer holds their gradient
	clear(dh2)
	clear(dpre2)
	clear(dh1)
	clear(dpre1)
	nn.CrossEntropyBackward(dlog, probs, labels, nil, B, C, 1)
	nn.LinearBackward(dh2, m.dw3, m.db3, dlog, h2, m.w3, B, H, C)
	nn.ReLUBackward(dpre2, dh2, pre2)
	nn.LinearBackward(dh1, m.dw2, m.db2, dpre2, h1, m.w2, B, H, H)
	nn.ReLUBackward(dpre1, dh1, pre1)
	nn.LinearBackward(nil, m.dw1, m.db1, dpre1, x, m.w1, B, m.in, H)
	return loss
}

// endregion

// evalLoss returns the mean loss over a data set, in chunks of the largest
// batch.
func (m *mlp) evalLoss(x []float32, labels []int32) float64 {
	var sum float64
	for i := 0; i < len(labels); i += m.maxBatch {
		j := min(i+m.maxBatch, len(labels))
		sum += m.loss(x[2*i:2*j], labels[i:j], false) * float64(j-i)
	}
	return sum / float64(len(labels))
}

// weightNorm returns the L2 norms of the weights and of the biases.
func (m *mlp) weightNorm() (weights, biases float64) {
	sq := func(vs ...[]float32) float64 {
		var s float64
		for _, v := range vs {
			for _, x := range v {
				s += float64(x) * float64(x)
			}
		}
		return math.Sqrt(s)
	}
	return sq(m.w1, m.w2, m.w3), sq(m.b1, m.b2, m.b3)
}

// dataset is a labelled sample of a mixture: points [n, 2] and modes [n].
type dataset struct {
	X      []float32
	Labels []int32
}

func sampleMixture(mix data.Mixture, n int, rng *rand.Rand) dataset {
	d := dataset{X: make([]float32, 2*n), Labels: make([]int32, n)}
	k := len(mix.Centres)
	for i := range n {
		c := rng.IntN(k)
		d.Labels[i] = int32(c)
		d.X[2*i] = float32(mix.Centres[c][0] + mix.Sigma*rng.NormFloat64())
		d.X[2*i+1] = float32(mix.Centres[c][1] + mix.Sigma*rng.NormFloat64())
	}
	return d
}

// mlpRun is one training run of the MLP.
type mlpRun struct {
	Name     string
	Spec     optimizerSpec
	LR       optim.Schedule
	Batch    func(step int) int // batch size of each step
	Steps    int
	DecayW   bool // weight decay on the weight matrices
	DecayB   bool // weight decay on the biases too
	EvalAt   []int
	Examples []float64 // examples seen at each evaluation
	Eval     []float64 // held-out loss at each evaluation
	Train    []float64 // training-set loss at each evaluation
	WNorm    float64
	BNorm    float64
}

// trainMLP trains a fresh MLP (initialised from seed) as r describes, on
// train, evaluating on test at r.EvalAt.
func trainMLP(ctx context.Context, r *mlpRun, train, test dataset, hidden, classes, maxBatch int, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 7))
	m := newMLP(2, hidden, classes, maxBatch, rng)
	opt, err := r.Spec.New(m.optimParams(r.DecayW, r.DecayB))
	if err != nil {
		return err
	}
	batchRNG := rand.New(rand.NewPCG(seed, 8)) // the same example order for every optimizer
	x := make([]float32, 2*maxBatch)
	labels := make([]int32, maxBatch)
	seen := 0
	j := 0
	for s := 0; s <= r.Steps; s++ {
		if j < len(r.EvalAt) && r.EvalAt[j] == s {
			r.Eval = append(r.Eval, m.evalLoss(test.X, test.Labels))
			r.Train = append(r.Train, m.evalLoss(train.X, train.Labels))
			r.Examples = append(r.Examples, float64(seen))
			j++
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if s == r.Steps {
			break
		}
		B := r.Batch(s)
		for i := range B {
			k := batchRNG.IntN(len(train.Labels))
			x[2*i], x[2*i+1], labels[i] = train.X[2*k], train.X[2*k+1], train.Labels[k]
		}
		m.loss(x[:2*B], labels[:B], true)
		opt.Step(r.LR(s))
		seen += B
	}
	r.WNorm, r.BNorm = m.weightNorm()
	return nil
}
