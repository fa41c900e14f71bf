package optim

import (
	"fmt"
	"math"
)

// SGDConfig holds SGD's hyperparameters, PyTorch's torch.optim.SGD
// arguments without lr (given to each Step) or maximize. The zero value is
// plain SGD.
type SGDConfig struct {
	Momentum    float64 // μ ≥ 0; 0 disables the momentum buffer
	Dampening   float64 // τ, applied to the gradient from the second step on
	WeightDecay float64 // λ ≥ 0, L2 penalty added to the gradient of Decay params
	Nesterov    bool    // needs Momentum > 0 and Dampening == 0, as in PyTorch
}

// SGD is stochastic gradient descent with optional momentum, dampening,
// Nesterov momentum and L2 weight decay, following torch.optim.SGD
// (Sutskever et al. 2013 in PyTorch's form). For each parameter θ with
// gradient g at step t (1-based), learning rate γ:
//
//	if λ ≠ 0 and Decay:  g ← g + λθ
//	if μ ≠ 0:            b ← g                 if t = 1
//	                     b ← μb + (1−τ)g       otherwise
//	                     g ← g + μb            if Nesterov, else g ← b
//	θ ← θ − γg
//
// SGD implements Optimizer.
type SGD struct {
	params []Param
	cfg    SGDConfig
	buf    [][]float32 // momentum buffers, nil when Momentum == 0
	slots  slots
	steps  int
}

// NewSGD returns an SGD optimizer over params (the slice is copied; Data
// and Grad stay aliased). It allocates the momentum buffers, one per
// parameter, in a single allocation. It returns an error wrapping ErrConfig
// for negative or non-finite hyperparameters, Nesterov without momentum or
// with dampening, or an invalid parameter list (empty or duplicate names,
// gradient and data lengths that differ).
func NewSGD(params []Param, cfg SGDConfig) (*SGD, error) {
	if err := checkParams(params); err != nil {
		return nil, err
	}
	for _, h := range []struct {
		name string
		v    float64
	}{{"momentum", cfg.Momentum}, {"dampening", cfg.Dampening}, {"weight decay", cfg.WeightDecay}} {
		if !(h.v >= 0) || math.IsInf(h.v, 0) {
			return nil, fmt.Errorf("%w: sgd: %s %v must be finite and ≥ 0", ErrConfig, h.name, h.v)
		}
	}
	if cfg.Nesterov && (cfg.Momentum == 0 || cfg.Dampening != 0) {
		return nil, fmt.Errorf("%w: sgd: nesterov momentum requires momentum > 0 and zero dampening", ErrConfig)
	}
	o := &SGD{params: append([]Param(nil), params...), cfg: cfg}
	if cfg.Momentum != 0 {
		o.slots = newSlots(o.params, "sgd.momentum")
		o.buf = o.slots.kind(0, len(o.params))
	}
	return o, nil
}

// Step applies one SGD update with learning rate lr to every parameter and
// increments the step count. It allocates nothing.
func (o *SGD) Step(lr float64) {
	o.steps++
	first := o.steps == 1
	negLR := float32(-lr)
	mu := float32(o.cfg.Momentum)
	damp := float32(1 - o.cfg.Dampening)
	for i, p := range o.params {
		wd := float32(0)
		if p.Decay {
			wd = float32(o.cfg.WeightDecay)
		}
		theta, grad := p.Data, p.Grad[:len(p.Data)]
		if o.buf == nil {
			for j, g := range grad {
				if wd != 0 {
					g += wd * theta[j]
				}
				theta[j] += negLR * g
			}
			continue
		}
		b := o.buf[i][:len(theta)]
		for j, g := range grad {
			if wd != 0 {
				g += wd * theta[j]
			}
			if first {
				b[j] = g
			} else {
				b[j] = mu*b[j] + damp*g
			}
			if o.cfg.Nesterov {
				g += mu * b[j]
			} else {
				g = b[j]
			}
			theta[j] += negLR * g
		}
	}
}

// Steps returns the number of steps taken, including those restored by
// LoadState.
func (o *SGD) Steps() int { return o.steps }

// State returns the momentum buffers as views named "sgd.momentum/<param>",
// in parameter order; it is empty when Momentum is 0. The views alias the
// optimizer's memory: serialise or copy them before the next Step.
func (o *SGD) State() []StateTensor { return o.slots.export() }

// LoadState restores the step count and the momentum buffers exported by
// State from an SGD optimizer with the same configuration over parameters of
// the same names and lengths (tensors may come in any order). It returns an
// error wrapping ErrState, and changes nothing, on a negative step count or on
// unknown, missing, duplicate or wrongly sized tensors.
func (o *SGD) LoadState(steps int, state []StateTensor) error {
	if err := o.slots.load(steps, state); err != nil {
		return err
	}
	o.steps = steps
	return nil
}
