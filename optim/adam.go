package optim

import (
	"fmt"
	"math"
)

// AdamConfig holds the hyperparameters of Adam and AdamW, PyTorch's
// arguments without lr (given to each Step), amsgrad or maximize. PyTorch's
// defaults are Beta1 0.9, Beta2 0.999, Eps 1e-8, and WeightDecay 0 for Adam,
// 0.01 for AdamW; the zero value is not a usable default (Beta2 = 0).
type AdamConfig struct {
	Beta1, Beta2 float64 // moment decay rates, each in [0, 1)
	Eps          float64 // ε > 0, added to the bias-corrected √v
	WeightDecay  float64 // λ ≥ 0; L2 in the gradient (Adam) or decoupled (AdamW)
}

// Adam is the Adam optimizer (Kingma & Ba 2015) or, built by NewAdamW, AdamW
// with decoupled weight decay (Loshchilov & Hutter 2019), following
// torch.optim.Adam and torch.optim.AdamW. For each parameter θ with gradient
// g at step t (1-based), learning rate γ:
//
//	AdamW, Decay:  θ ← θ(1 − γλ)
//	Adam, Decay:   g ← g + λθ
//	m ← β1·m + (1−β1)·g      (computed as PyTorch's lerp(m, g, 1−β1))
//	v ← β2·v + (1−β2)·g²
//	θ ← θ − (γ / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + ε)
//
// Adam implements Optimizer.
type Adam struct {
	params    []Param
	cfg       AdamConfig
	decoupled bool        // AdamW
	m, v      [][]float32 // first and second moments, per param
	slots     slots
	steps     int
}

// NewAdam returns an Adam optimizer (L2 weight decay added to the gradient of
// Decay parameters) over params; the slice is copied, Data and Grad stay
// aliased. Both moment buffers of every parameter are allocated in a single
// allocation. It returns an error wrapping ErrConfig for β outside [0, 1), ε
// not positive, a negative or non-finite weight decay, or an invalid parameter
// list (empty or duplicate names, gradient and data lengths that differ).
func NewAdam(params []Param, cfg AdamConfig) (*Adam, error) {
	return newAdam(params, cfg, false)
}

// NewAdamW is NewAdam with decoupled weight decay: Decay parameters shrink by
// the factor 1 − lr·λ before the Adam update, and the gradient is left
// alone. Its state has the same names as Adam's, so either can resume from
// the other, as in PyTorch.
func NewAdamW(params []Param, cfg AdamConfig) (*Adam, error) {
	return newAdam(params, cfg, true)
}

func newAdam(params []Param, cfg AdamConfig, decoupled bool) (*Adam, error) {
	if err := checkParams(params); err != nil {
		return nil, err
	}
	if !(cfg.Beta1 >= 0 && cfg.Beta1 < 1) || !(cfg.Beta2 >= 0 && cfg.Beta2 < 1) {
		return nil, fmt.Errorf("%w: adam: betas (%v, %v) must lie in [0, 1)", ErrConfig, cfg.Beta1, cfg.Beta2)
	}
	if !(cfg.Eps > 0) || math.IsInf(cfg.Eps, 0) {
		return nil, fmt.Errorf("%w: adam: eps %v must be finite and > 0", ErrConfig, cfg.Eps)
	}
	if !(cfg.WeightDecay >= 0) || math.IsInf(cfg.WeightDecay, 0) {
		return nil, fmt.Errorf("%w: adam: weight decay %v must be finite and ≥ 0", ErrConfig, cfg.WeightDecay)
	}
	o := &Adam{params: append([]Param(nil), params...), cfg: cfg, decoupled: decoupled}
	o.slots = newSlots(o.params, "adam.m", "adam.v")
	o.m = o.slots.kind(0, len(o.params))
	o.v = o.slots.kind(1, len(o.params))
	return o, nil
}

// Step applies one Adam (or AdamW) update with learning rate lr to every
// parameter and increments the step count. It allocates nothing.
func (o *Adam) Step(lr float64) {
	o.steps++
	t := float64(o.steps)
	bc1 := 1 - math.Pow(o.cfg.Beta1, t)
	bc2 := 1 - math.Pow(o.cfg.Beta2, t)
	negStep := float32(-(lr / bc1))
	bc2Sqrt := float32(math.Sqrt(bc2))
	eps := float32(o.cfg.Eps)
	w1 := float32(1 - o.cfg.Beta1)
	b2, w2 := float32(o.cfg.Beta2), float32(1-o.cfg.Beta2)
	shrink := float32(1 - lr*o.cfg.WeightDecay) // AdamW's θ ← θ(1−γλ)
	for i, p := range o.params {
		theta, grad := p.Data, p.Grad[:len(p.Data)]
		m, v := o.m[i][:len(theta)], o.v[i][:len(theta)]
		decay := p.Decay && o.cfg.WeightDecay != 0
		l2 := float32(0)
		if decay && !o.decoupled {
			l2 = float32(o.cfg.WeightDecay)
		}
		if decay && o.decoupled {
			for j := range theta {
				theta[j] *= shrink
			}
		}
		for j, g := range grad {
			if l2 != 0 {
				g += l2 * theta[j]
			}
			m[j] = lerp(m[j], g, w1)
			v[j] = v[j]*b2 + w2*g*g
			denom := sqrt32(v[j])/bc2Sqrt + eps
			theta[j] += negStep * m[j] / denom
		}
	}
}

// lerp is PyTorch's lerp(a, b, w) for float32: a + w(b−a) for |w| < 0.5,
// b − (b−a)(1−w) otherwise, which is exact at w = 1.
func lerp(a, b, w float32) float32 {
	if w < 0.5 && w > -0.5 {
		return a + w*(b-a)
	}
	return b - (b-a)*(1-w)
}

// sqrt32 is the correctly rounded float32 square root.
func sqrt32(x float32) float32 { return float32(math.Sqrt(float64(x))) }

// Steps returns the number of steps taken, including those restored by
// LoadState.
func (o *Adam) Steps() int { return o.steps }

// State returns the moments as views, all first moments "adam.m/<param>" in
// parameter order, then all second moments "adam.v/<param>". The views alias
// the optimizer's memory: serialise or copy them before the next Step.
func (o *Adam) State() []StateTensor { return o.slots.export() }

// LoadState restores the step count (which sets the bias correction) and the
// moments exported by State from an Adam or AdamW optimizer over parameters of
// the same names and lengths (tensors may come in any order). It returns an
// error wrapping ErrState, and changes nothing, on a negative step count or on
// unknown, missing, duplicate or wrongly sized tensors.
func (o *Adam) LoadState(steps int, state []StateTensor) error {
	if err := o.slots.load(steps, state); err != nil {
		return err
	}
	o.steps = steps
	return nil
}
