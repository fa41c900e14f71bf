package main

import (
	"math"

	"github.com/mechinterp/workbench/optim"
)

// A two-dimensional objective: its value and gradient at (x, y).
type objective func(x, y float64) (f, gx, gy float64)

// rosenbrock is Rosenbrock's banana valley, f = (1−x)² + 100(y−x²)², with its
// minimum 0 at (1, 1) at the bottom of a long, curved, flat-floored valley.
func rosenbrock(x, y float64) (f, gx, gy float64) {
	a, b := 1-x, y-x*x
	return a*a + 100*b*b, -2*a - 400*x*b, 200 * b
}

// quadratic returns the ill-conditioned bowl f = ½(λ₁u² + λ₂v²) in
// coordinates (u, v) rotated by theta radians from (x, y): curvatures
// λ₁ = 1 and λ₂ = kappa, condition number kappa, minimum 0 at the origin.
func quadratic(kappa, theta float64) objective {
	c, s := math.Cos(theta), math.Sin(theta)
	return func(x, y float64) (f, gx, gy float64) {
		u, v := c*x+s*y, -s*x+c*y
		gu, gv := u, kappa*v
		return 0.5 * (u*u + kappa*v*v), c*gu - s*gv, s*gu + c*gv
	}
}

// optimizerSpec names an optimizer and builds it over a parameter list.
type optimizerSpec struct {
	Name string
	New  func([]optim.Param) (optim.Optimizer, error)
}

func sgd(name string, cfg optim.SGDConfig) optimizerSpec {
	return optimizerSpec{name, func(p []optim.Param) (optim.Optimizer, error) { return optim.NewSGD(p, cfg) }}
}

func adam(name string, cfg optim.AdamConfig, decoupled bool) optimizerSpec {
	return optimizerSpec{name, func(p []optim.Param) (optim.Optimizer, error) {
		if decoupled {
			return optim.NewAdamW(p, cfg)
		}
		return optim.NewAdam(p, cfg)
	}}
}

// adamDefaults are PyTorch's Adam hyperparameters.
var adamDefaults = optim.AdamConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}

// path is an optimizer's trajectory on a 2-D objective: the point and the
// value before each step, and after the last.
type path struct {
	X, Y, F []float64
}

// region: descend

// descend runs steps steps of the optimizer built by spec, at learning rate
// lr, on f from (x0, y0). The parameters are float32, as in training; the
// objective is evaluated in float64. It stops early if the point diverges.
func descend(f objective, spec optimizerSpec, lr float64, x0, y0 float64, steps int) (path, error) {
	xy, grad := []float32{float32(x0), float32(y0)}, make([]float32, 2)
	opt, err := spec.New([]optim.Param{{Name: "xy", Data: xy, Grad: grad}})
	if err != nil {
		return path{}, err
	}
	var p path
	for s := 0; ; s++ {
		x, y := float64(xy[0]), float64(xy[1])
		v, gx, gy := f(x, y)
		p.X, p.Y, p.F = append(p.X, x), append(p.Y, y), append(p.F, v)
		if s == steps || math.IsNaN(v) || math.IsInf(v, 0) || v > 1e12 {
			return p, nil
		}
		grad[0], grad[1] = float32(gx), float32(gy)
		opt.Step(lr)
	}
}

// endregion

// final returns the last value of a path, +Inf if it diverged before the
// end of steps steps.
func (p path) final(steps int) float64 {
	if len(p.F) < steps+1 {
		return math.Inf(1)
	}
	v := p.F[len(p.F)-1]
	if math.IsNaN(v) {
		return math.Inf(1)
	}
	return v
}

// stepsTo returns the first step at which the path's value is ≤ tol, or −1.
func (p path) stepsTo(tol float64) int {
	for i, v := range p.F {
		if v <= tol {
			return i
		}
	}
	return -1
}

// tuned is an optimizer at the learning rate of a grid that gave the
// lowest final value.
type tuned struct {
	Spec optimizerSpec
	LR   float64
	Path path
}

// tune runs spec at every learning rate in lrs and keeps the run with the
// lowest final value (the first, if every run diverged).
func tune(f objective, spec optimizerSpec, lrs []float64, x0, y0 float64, steps int) (tuned, error) {
	var best tuned
	bestF := math.Inf(1)
	for i, lr := range lrs {
		p, err := descend(f, spec, lr, x0, y0, steps)
		if err != nil {
			return tuned{}, err
		}
		if v := p.final(steps); i == 0 || v < bestF {
			best, bestF = tuned{Spec: spec, LR: lr, Path: p}, v
		}
	}
	return best, nil
}

// contraction fits log f_t = a + t·log ρ² over the steps where f lies in
// [lo, hi] and returns ρ, the measured per-step contraction of the distance
// to the minimum (f is quadratic in the distance, hence the square).
func contraction(f []float64, lo, hi float64) float64 {
	var n, st, sy, stt, sty float64
	for t, v := range f {
		if v < lo || v > hi {
			continue
		}
		ly := math.Log(v)
		n++
		st += float64(t)
		sy += ly
		stt += float64(t) * float64(t)
		sty += float64(t) * ly
	}
	if n < 3 {
		return math.NaN()
	}
	slope := (n*sty - st*sy) / (n*stt - st*st)
	return math.Exp(slope / 2)
}
