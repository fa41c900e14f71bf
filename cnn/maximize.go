package cnn

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/optim"
	"github.com/mechinterp/workbench/tensor"
)

// MaxMaximizeSteps bounds MaximizeOptions.Steps.
const MaxMaximizeSteps = 10000

// MaximizeOptions configures MaximizeUnit. The zero value takes the
// defaults named on each field.
type MaximizeOptions struct {
	Steps  int     // Adam steps, 1 to MaxMaximizeSteps (0: 200)
	LR     float64 // Adam step size (0: 0.05)
	Jitter int     // each step shifts the image by up to ±Jitter pixels, cyclically (0: none)
	TV     float64 // weight of the total-variation penalty Σ (neighbour differences)² (0: none)
	L2     float64 // weight of ½‖x‖² (0: none)
	// Lo and Hi clamp the pixels after every step; both 0 means [0, 1],
	// the range of Fashion-MNIST pixels.
	Lo, Hi float32
	// Init is the starting image [C, H, W]; nil starts from (Lo+Hi)/2 plus
	// Gaussian noise of 1/20 of the range drawn from Seed.
	Init []float32
	Seed uint64 // the initial noise and the jitter
}

// Maximized is the result of MaximizeUnit.
type Maximized struct {
	Image []float32 // [C, H, W], the optimised input
	// Trace is the unit's activation (mean over its map) before each step,
	// on the shifted image that step saw, then once more on the final
	// image unshifted: Steps+1 values.
	Trace []float64
	// Objective is the penalised objective (activation − penalties) before
	// each step.
	Objective []float64
}

// MaximizeUnit synthesises an input that maximises one unit: channel unit
// of the activation at point, averaged over its pixels (Erhan et al. 2009;
// Olah et al. 2017, "Feature Visualization"). It runs Adam on the image
// (optim.Adam, β = 0.9, 0.999) in evaluation mode, ascending
//
//	mean_pixels act[unit](shift(x)) − TV·Σ(Δx)² − L2·½‖x‖²
//
// where shift is a random cyclic translation of up to ±Jitter pixels, drawn
// anew each step (transformation robustness), and the total variation sums
// squared differences of horizontal and vertical neighbours. The gradient
// flows from a backward hook at point down to a backward hook on
// hook_input; hs's hooks (nil for none) run too, so a unit can be
// visualised under an ablation. Unknown points, dropout masks, a unit out
// of range and bad options are errors.
func (m *Model) MaximizeUnit(ctx context.Context, point hooks.Name, unit int, o MaximizeOptions, hs *hooks.Set) (*Maximized, error) {
	o, err := m.maximizeDefaults(point, unit, o)
	if err != nil {
		return nil, err
	}
	c := m.Cfg
	shape, _ := m.PointShape(point)
	pix := tensor.Numel(shape[1:]) // pixels of one channel
	rng := rand.New(rand.NewPCG(o.Seed, 0x6d61_78))
	img := make([]float32, c.InC*c.InH*c.InW)
	if o.Init != nil {
		copy(img, o.Init)
	} else {
		mid, sd := (o.Lo+o.Hi)/2, float64(o.Hi-o.Lo)/20
		for i := range img {
			img[i] = clamp(mid+float32(rng.NormFloat64()*sd), o.Lo, o.Hi)
		}
	}
	grad := make([]float32, len(img))
	adam, err := optim.NewAdam([]optim.Param{{Name: string(InputPoint), Data: img, Grad: grad}},
		optim.AdamConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8})
	if err != nil {
		return nil, err
	}

	ws := m.NewWorkspace(1)
	shifted := make([]float32, len(img))
	dshift := make([]float32, len(img))
	seed := hooks.NewSet().AddBackward(point, func(g *tensor.Tensor, _ hooks.Name) *tensor.Tensor {
		// The loss is −objective: ∂/∂act = −1/pix on the unit's map.
		for i := range pix {
			g.Data[unit*pix+i] -= 1 / float32(pix)
		}
		return nil
	})
	all := hooks.Merge(hs, seed)
	dlogits := make([]float32, c.NClasses)
	activation := func() float64 {
		a, _ := ws.Act(point)
		var s float64
		for _, v := range a.Data[unit*pix : (unit+1)*pix] {
			s += float64(v)
		}
		return s / float64(pix)
	}
	res := &Maximized{}
	for range o.Steps {
		dy, dx := 0, 0
		if o.Jitter > 0 {
			dy, dx = rng.IntN(2*o.Jitter+1)-o.Jitter, rng.IntN(2*o.Jitter+1)-o.Jitter
		}
		roll(shifted, img, c.InC, c.InH, c.InW, dy, dx)
		if err := inputGrad(ctx, ws, shifted, dlogits, all, dshift); err != nil {
			return nil, err
		}
		act := activation()
		roll(grad, dshift, c.InC, c.InH, c.InW, -dy, -dx)
		tv := tvAdd(grad, img, c.InC, c.InH, c.InW, float32(o.TV))
		var l2 float64
		for i, v := range img {
			grad[i] += float32(o.L2) * v
			l2 += float64(v) * float64(v)
		}
		res.Trace = append(res.Trace, act)
		res.Objective = append(res.Objective, act-o.TV*tv-o.L2*l2/2)
		adam.Step(o.LR)
		for i, v := range img {
			img[i] = clamp(v, o.Lo, o.Hi)
		}
	}
	if err := ws.Forward(ctx, img, Pass{}, hs); err != nil {
		return nil, err
	}
	res.Trace = append(res.Trace, activation())
	res.Image = img
	return res, nil
}

// maximizeDefaults validates MaximizeUnit's arguments and fills defaults.
func (m *Model) maximizeDefaults(point hooks.Name, unit int, o MaximizeOptions) (MaximizeOptions, error) {
	bad := func(format string, args ...any) (MaximizeOptions, error) {
		return o, fmt.Errorf("cnn: maximize: "+format, args...)
	}
	shape, ok := m.PointShape(point)
	if !ok || point.IsGrad() {
		_, err := m.ParseHook(string(point))
		if err == nil {
			err = fmt.Errorf("cnn: maximize: %q is a gradient, not an activation", point)
		}
		return o, err
	}
	if point == InputPoint {
		return bad("%q is the input itself", point)
	}
	if isMask(m.net, point) {
		return bad("%q is a dropout mask, not an activation", point)
	}
	if unit < 0 || unit >= shape[0] {
		return bad("unit %d outside [0, %d) of %s", unit, shape[0], point)
	}
	if o.Steps == 0 {
		o.Steps = 200
	}
	if o.LR == 0 {
		o.LR = 0.05
	}
	if o.Lo == 0 && o.Hi == 0 {
		o.Hi = 1
	}
	switch {
	case o.Steps < 1 || o.Steps > MaxMaximizeSteps:
		return bad("steps %d outside [1, %d]", o.Steps, MaxMaximizeSteps)
	case !(o.LR > 0) || math.IsInf(o.LR, 0):
		return bad("learning rate %v must be positive and finite", o.LR)
	case o.Jitter < 0 || o.Jitter >= min(m.Cfg.InH, m.Cfg.InW):
		return bad("jitter %d must be in [0, %d)", o.Jitter, min(m.Cfg.InH, m.Cfg.InW))
	case !(o.TV >= 0) || !(o.L2 >= 0) || math.IsInf(o.TV, 0) || math.IsInf(o.L2, 0):
		return bad("penalties TV %v and L2 %v must be finite and ≥ 0", o.TV, o.L2)
	case !(o.Lo < o.Hi) || math.IsInf(float64(o.Lo), 0) || math.IsInf(float64(o.Hi), 0):
		return bad("pixel range [%v, %v] is empty or infinite", o.Lo, o.Hi)
	}
	if o.Init != nil {
		if err := m.checkImage("maximize: initial image", o.Init, 0); err != nil {
			return o, err
		}
	}
	return o, nil
}

// isMask reports whether name is a dropout layer's mask among ls.
func isMask(ls []*layer, name hooks.Name) bool {
	for _, l := range ls {
		if l.hookMask == name || (l.kind == kBlock && (isMask(l.branch, name) || isMask(l.shortcut, name))) {
			return true
		}
	}
	return false
}

// roll writes src shifted cyclically by (dy, dx) pixels into dst, per
// channel of [c, h, w] images: dst[y][x] = src[y−dy][x−dx].
func roll(dst, src []float32, c, h, w, dy, dx int) {
	for ch := range c {
		s, d := src[ch*h*w:(ch+1)*h*w], dst[ch*h*w:(ch+1)*h*w]
		for y := range h {
			sy := ((y-dy)%h + h) % h
			for x := range w {
				d[y*w+x] = s[sy*w+((x-dx)%w+w)%w]
			}
		}
	}
}

// tvAdd adds weight·∂TV/∂x to grad, where TV(x) = Σ over channels of the
// squared differences of horizontal and vertical neighbours of x [c, h, w],
// and returns TV(x).
func tvAdd(grad, x []float32, c, h, w int, weight float32) float64 {
	var tv float64
	for ch := range c {
		o := ch * h * w
		for y := range h {
			for xx := range w {
				i := o + y*w + xx
				if xx+1 < w {
					d := x[i+1] - x[i]
					tv += float64(d * d)
					grad[i+1] += 2 * weight * d
					grad[i] -= 2 * weight * d
				}
				if y+1 < h {
					d := x[i+w] - x[i]
					tv += float64(d * d)
					grad[i+w] += 2 * weight * d
					grad[i] -= 2 * weight * d
				}
			}
		}
	}
	return tv
}

func clamp(v, lo, hi float32) float32 { return min(max(v, lo), hi) }
