package main

import (
	"context"
	"math"
	"math/rand/v2"

	"github.com/mechinterp/workbench/nn"
	"github.com/mechinterp/workbench/optim"
	"github.com/mechinterp/workbench/tensor"
)

// The toy model of Elhage et al. (2022), "Toy Models of Superposition",
// section 2: n features, m < n hidden dimensions, tied weights W [m, n] whose
// column W_i is feature i's direction in the hidden space, a bias b [n] and
// a ReLU on the output:
//
//	h  = W·x                 (row vectors: h = x·Wᵀ)      [batch, m]
//	x' = ReLU(Wᵀ·h + b)      (row vectors: ReLU(h·W + b)) [batch, n]
//
// trained on sparse synthetic features — x_i is 0 with probability S (the
// sparsity) and uniform on [0, 1] otherwise, independently — to minimise the
// importance-weighted reconstruction error
//
//	L = E_x Σ_i I_i (x_i − x'_i)².

// toyConfig is one training run of the toy model.
type toyConfig struct {
	N, M       int       // features, hidden dimensions
	Sparsity   float64   // S: probability that a feature is zero
	Importance []float64 // I_i, len N
	Batch      int
	Steps      int
	LR         float64 // Adam's peak learning rate (cosine decay to 0)
	Seed       uint64
	// Init, if not nil, adjusts the initial W [m, n] (after the random
	// draw), to start training in a chosen basin.
	Init func(W []float32)
}

// toyModel holds the parameters, their gradients and one batch's activations,
// laid out once.
type toyModel struct {
	n, m, batch int
	W, b        []float32 // [m, n], [n]
	dW, db      []float32
	x, h, pre   []float32 // [batch, n], [batch, m], [batch, n]
	out         []float32 // [batch, n]
	dh, dpre    []float32
	dout, imp   []float32 // [batch, n], [n]
}

func newToyModel(n, m, batch int, importance []float64, rng *rand.Rand) *toyModel {
	t := &toyModel{n: n, m: m, batch: batch,
		W: make([]float32, m*n), b: make([]float32, n),
		dW: make([]float32, m*n), db: make([]float32, n),
		x: make([]float32, batch*n), h: make([]float32, batch*m), pre: make([]float32, batch*n),
		out: make([]float32, batch*n), dh: make([]float32, batch*m), dpre: make([]float32, batch*n),
		dout: make([]float32, batch*n), imp: make([]float32, n),
	}
	// Xavier-normal initialisation, as the paper's code (torch.nn.init.xavier_normal_).
	std := math.Sqrt(2 / float64(n+m))
	for i := range t.W {
		t.W[i] = float32(std * rng.NormFloat64())
	}
	for i, v := range importance {
		t.imp[i] = float32(v)
	}
	return t
}

// sample fills the input batch with sparse features.
func (t *toyModel) sample(rng *rand.Rand, sparsity float64) {
	for i := range t.x {
		if rng.Float64() < sparsity {
			t.x[i] = 0
		} else {
			t.x[i] = rng.Float32()
		}
	}
}

// region: model
// forward runs the model on t.x and returns the loss, the batch mean of
// Σ_i I_i (x_i − x'_i)².
func (t *toyModel) forward() float64 {
	B, n, m := t.batch, t.n, t.m
	tensor.Gemm(false, true, B, m, n, 1, t.x, n, t.W, n, 0, t.h, m) // h = x·Wᵀ   [batch, m]
	nn.LinearForward(t.pre, t.h, t.W, t.b, B, m, n)                 // h·W + b    [batch, n]
	nn.ReLUForward(t.out, t.pre)                                    // x'         [batch, n]
	var loss float64
	for r := range B {
		for i := range n {
			d := float64(t.out[r*n+i] - t.x[r*n+i])
			loss += float64(t.imp[i]) * d * d
		}
	}
	return loss / float64(B)
}

// backward writes the gradient of the last forward's loss into dW and db.
func (t *toyModel) backward() {
	B, n, m := t.batch, t.n, t.m
	scale := 2 / float32(B)
	for r := range B {
		for i := range n {
			k := r*n + i
			t.dout[k] = scale * t.imp[i] * (t.out[k] - t.x[k])
		}
	}
	clear(t.dpre)
	clear(t.dh)
	clear(t.dW)
	clear(t.db)
	nn.ReLUBackward(t.dpre, t.dout, t.pre)
	nn.LinearBackward(t.dh, t.dW, t.db, t.dpre, t.h, t.W, B, m, n)    // decoder: dW += hᵀ·dpre
	tensor.Gemm(true, false, m, n, B, 1, t.dh, m, t.x, n, 1, t.dW, n) // encoder: dW += dhᵀ·x
}

// endregion

// toyResult is a trained toy model.
type toyResult struct {
	W    [][]float64 // [m][n]
	B    []float64   // [n]
	Loss float64     // mean loss over the last tenth of training
}

// region: train
// trainToy trains one toy model with Adam (no weight decay) and a cosine
// learning-rate schedule.
func trainToy(ctx context.Context, c toyConfig) (toyResult, error) {
	rng := rand.New(rand.NewPCG(c.Seed, c.Seed^0x5eed))
	t := newToyModel(c.N, c.M, c.Batch, c.Importance, rng)
	if c.Init != nil {
		c.Init(t.W)
	}
	params := []optim.Param{{Name: "W", Data: t.W, Grad: t.dW}, {Name: "b", Data: t.b, Grad: t.db}}
	opt, err := optim.NewAdam(params, optim.AdamConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8})
	if err != nil {
		return toyResult{}, err
	}
	sched := optim.Cosine(c.LR, c.Steps/20, c.Steps, 0)
	var tail float64
	tailFrom := c.Steps - max(c.Steps/10, 1)
	for s := range c.Steps {
		if s%100 == 0 {
			if err := ctx.Err(); err != nil {
				return toyResult{}, err
			}
		}
		t.sample(rng, c.Sparsity)
		loss := t.forward()
		if s >= tailFrom {
			tail += loss
		}
		t.backward()
		opt.Step(sched(s))
	}
	r := toyResult{W: make([][]float64, c.M), B: nn.To64(t.b), Loss: tail / float64(c.Steps-tailFrom)}
	for j := range r.W {
		r.W[j] = nn.To64(t.W[j*c.N : (j+1)*c.N])
	}
	return r, nil
}

// endregion

// norms returns ‖W_i‖ for each feature (column) i.
func (r toyResult) norms() []float64 {
	n := len(r.W[0])
	out := make([]float64, n)
	for i := range n {
		var s float64
		for j := range r.W {
			s += r.W[j][i] * r.W[j][i]
		}
		out[i] = math.Sqrt(s)
	}
	return out
}

// dot returns W_i·W_j.
func (r toyResult) dot(i, j int) float64 {
	var s float64
	for k := range r.W {
		s += r.W[k][i] * r.W[k][j]
	}
	return s
}

// dimsPerFeature returns the paper's D* = m / ‖W‖_F², the number of hidden
// dimensions per embedded feature (section 5).
func (r toyResult) dimsPerFeature() float64 {
	var f float64
	for _, row := range r.W {
		for _, v := range row {
			f += v * v
		}
	}
	return float64(len(r.W)) / f
}

// region: dims
// featureDims returns each feature's dimensionality (section 5)
//
//	D_i = ‖W_i‖² / Σ_j (Ŵ_i·W_j)²,
//
// the share of a dimension feature i gets: 1 for a feature with a dimension
// of its own, 1/2 for an antipodal pair, 2/5 in a pentagon; 0 for a feature
// that is not represented (‖W_i‖ below minNorm).
func (r toyResult) featureDims(minNorm float64) []float64 {
	norms := r.norms()
	n := len(norms)
	d := make([]float64, n)
	for i := range n {
		if norms[i] < minNorm {
			continue
		}
		var den float64
		for j := range n {
			p := r.dot(i, j) / norms[i]
			den += p * p
		}
		d[i] = norms[i] * norms[i] / den
	}
	return d
}

// endregion
