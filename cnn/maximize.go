package cnn

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/nn"
	"github.com/mechinterp/workbench/optim"
	"github.com/mechinterp/workbench/tensor"
)

// MaxMaximizeSteps bounds MaximizeOptions.Steps.
const MaxMaximizeSteps = 10000

// Bounds of the transformation-robustness options.
const (
	MaxMaximizeScale  = 0.5  // MaximizeOptions.Scale is below it
	MaxMaximizeRotate = 45.0 // degrees; MaximizeOptions.Rotate is at most it
	MaxMaximizeDecay  = 4.0  // MaximizeOptions.Decay is at most it
)

// fourierInitSD is the standard deviation, before the sigmoid, of
// FourierParam's random starting image: visible noise around mid-grey
// (σ(±1) spans 0.27 to 0.73 of the range), so that ReLU units which are
// dead on a flat image still see some input.
const fourierInitSD = 1.0

// MaximizeOptions configures MaximizeUnit. The zero value takes the
// defaults named on each field.
type MaximizeOptions struct {
	Steps int     // Adam steps, 1 to MaxMaximizeSteps (0: 200)
	LR    float64 // Adam step size (0: 0.05)
	// Param is the image's parameterisation (zero: PixelParam).
	Param ImageParam
	// Decay is FourierParam's spectral decay: the coefficient of a basis
	// image of frequency f is scaled by 1/f^Decay (0: 1; at most
	// MaxMaximizeDecay). PixelParam refuses a non-zero Decay.
	Decay float64
	// Each step sees the image translated by up to ±Jitter whole pixels
	// per axis, scaled by a factor in [1 − Scale, 1 + Scale] and rotated by
	// up to ±Rotate degrees about its centre, drawn anew each step
	// (transformation robustness); pixels brought in from outside the
	// image are Lo. Zero means none.
	Jitter int
	Scale  float64 // below MaxMaximizeScale
	Rotate float64 // degrees, at most MaxMaximizeRotate
	TV     float64 // weight of the total-variation penalty Σ (neighbour differences)² (0: none)
	L2     float64 // weight of ½‖x‖² (0: none)
	// Lo and Hi bound the pixels (clamped after every PixelParam step; the
	// range of FourierParam's sigmoid); both 0 means [0, 1], the range of
	// Fashion-MNIST pixels.
	Lo, Hi float32
	// Init is PixelParam's starting image [C, H, W]; nil starts from
	// (Lo+Hi)/2 plus Gaussian noise of 1/20 of the range drawn from Seed.
	// FourierParam starts from random coefficients (a noise image) and
	// refuses Init.
	Init []float32
	// Seed seeds the initial noise and the transformations, with the unit:
	// a unit gets the same image alone or in a batch of units.
	Seed uint64
}

// Maximized is the result of MaximizeUnit.
type Maximized struct {
	Unit  int
	Image []float32 // [C, H, W], the optimised input
	Start []float32 // [C, H, W], the starting image
	// Trace is the unit's activation (mean over its map) before each step,
	// on the transformed image that step saw, then once more on the final
	// image untransformed: Steps+1 values.
	Trace []float64
	// Objective is the penalised objective (activation − penalties) before
	// each step.
	Objective []float64
}

// MaximizeUnit synthesises an input that maximises one unit: channel unit
// of the activation at point, averaged over its pixels (Erhan et al. 2009;
// Olah et al. 2017, "Feature Visualization"). It runs Adam (optim.Adam,
// β = 0.9, 0.999) on the image's parameters — the pixels, or the scaled
// cosine spectrum of FourierParam — in evaluation mode, ascending
//
//	mean_pixels act[unit](T(x)) − TV·Σ(Δx)² − L2·½‖x‖²
//
// where T is a random translation, scaling and rotation drawn anew each
// step (transformation robustness), and the total variation sums squared
// differences of horizontal and vertical neighbours. The gradient with
// respect to the parameters is divided by its root mean square before each
// Adam step (gradient normalisation: every unit moves at the same pace
// however large its activations). The gradient flows from a backward hook
// at point down to a backward hook on hook_input; hs's hooks (nil for
// none) run too, so a unit can be visualised under an ablation. Unknown
// points, dropout masks, a unit out of range and bad options are errors.
func (m *Model) MaximizeUnit(ctx context.Context, point hooks.Name, unit int, o MaximizeOptions, hs *hooks.Set) (*Maximized, error) {
	r, err := m.MaximizeUnits(ctx, point, []int{unit}, o, hs)
	if err != nil {
		return nil, err
	}
	return r[0], nil
}

// MaximizeUnits runs MaximizeUnit for several units of one point at once,
// as one batch (a unit gallery costs about one batched optimisation). The
// i-th result is units[i]'s, the same image MaximizeUnit gives it alone.
func (m *Model) MaximizeUnits(ctx context.Context, point hooks.Name, units []int, o MaximizeOptions, hs *hooks.Set) ([]*Maximized, error) {
	if len(units) == 0 {
		return nil, fmt.Errorf("cnn: maximize: no units")
	}
	for _, u := range units {
		var err error
		if _, err = m.maximizeDefaults(point, u, o); err != nil {
			return nil, err
		}
	}
	o, _ = m.maximizeDefaults(point, units[0], o)
	v := m.newVis(point, units, o)
	for range o.Steps {
		if err := v.step(ctx, hs); err != nil {
			return nil, err
		}
	}
	return v.finish(ctx, hs)
}

// vis is the state of one batched activation maximisation.
type vis struct {
	m      *Model
	o      MaximizeOptions
	point  hooks.Name
	units  []int
	n, per int // images, values per image
	pix    int // pixels of one channel at point
	rngs   []*rand.Rand
	ws     *Workspace
	seed   *hooks.Set // the objective's backward hook
	spec   *spectral  // nil for PixelParam
	params []float32  // [n, C, H, W] pixels or coefficients
	grad   []float32
	adam   *optim.Adam
	img    []float32 // [n, C, H, W] the images of params
	sig    []float64 // [n, C, H, W] FourierParam's sigmoid outputs
	res    []*Maximized
}

func (m *Model) newVis(point hooks.Name, units []int, o MaximizeOptions) *vis {
	c := m.Cfg
	shape, _ := m.PointShape(point)
	n, per := len(units), c.InC*c.InH*c.InW
	v := &vis{m: m, o: o, point: point, units: units, n: n, per: per, pix: tensor.Numel(shape[1:]),
		ws: m.NewWorkspace(n), params: make([]float32, n*per), grad: make([]float32, n*per), img: make([]float32, n*per)}
	if o.Param == FourierParam {
		v.spec = newSpectral(c.InC, c.InH, c.InW, float64(o.Lo), float64(o.Hi), o.Decay)
		v.sig = make([]float64, n*per)
	}
	chans := tensor.Numel(shape)
	v.seed = hooks.NewSet().AddBackward(point, func(g *tensor.Tensor, _ hooks.Name) *tensor.Tensor {
		// The loss is −objective: ∂/∂act = −1/pix on each image's unit.
		for b, u := range units {
			d := g.Data[b*chans+u*v.pix : b*chans+(u+1)*v.pix]
			for i := range d {
				d[i] -= 1 / float32(v.pix)
			}
		}
		return nil
	})
	for b, u := range units {
		rng := rand.New(rand.NewPCG(o.Seed, 0x6d61_78+uint64(u)))
		v.rngs = append(v.rngs, rng)
		p := v.params[b*per : (b+1)*per]
		switch {
		case v.spec != nil:
			p64 := make([]float64, per)
			v.spec.init(p64, rng, fourierInitSD)
			nn.To32(p, p64)
		case o.Init != nil:
			copy(p, o.Init)
		default:
			mid, sd := (o.Lo+o.Hi)/2, float64(o.Hi-o.Lo)/20
			for i := range p {
				p[i] = clamp(mid+float32(rng.NormFloat64()*sd), o.Lo, o.Hi)
			}
		}
		v.res = append(v.res, &Maximized{Unit: u})
	}
	v.render()
	for b, r := range v.res {
		r.Start = slices.Clone(v.img[b*per : (b+1)*per])
	}
	// The parameters are one slice: Adam's per-coordinate update is the
	// same as one optimiser per image.
	v.adam, _ = optim.NewAdam([]optim.Param{{Name: string(InputPoint), Data: v.params, Grad: v.grad}},
		optim.AdamConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8})
	return v
}

// render computes the images of the parameters.
func (v *vis) render() {
	if v.spec == nil {
		copy(v.img, v.params)
		return
	}
	p64 := make([]float64, v.per)
	for b := range v.n {
		s := b * v.per
		for i, x := range v.params[s : s+v.per] {
			p64[i] = float64(x)
		}
		v.spec.image(v.img[s:s+v.per], v.sig[s:s+v.per], p64)
	}
}

// activation returns image b's mean activation of its unit after a forward
// pass.
func (v *vis) activation(b int) float64 {
	a, _ := v.ws.Act(v.point)
	per := len(a.Data) / v.n
	var s float64
	for _, x := range a.Data[b*per+v.units[b]*v.pix : b*per+(v.units[b]+1)*v.pix] {
		s += float64(x)
	}
	return s / float64(v.pix)
}

// step takes one Adam step on every image.
func (v *vis) step(ctx context.Context, hs *hooks.Set) error {
	c, o := v.m.Cfg, v.o
	warped := make([]float32, v.n*v.per)
	dwarped := make([]float32, v.n*v.per)
	warps := make([]*warp, v.n)
	for b := range v.n {
		warps[b] = randomWarp(v.rngs[b], c.InH, c.InW, o.Jitter, o.Scale, o.Rotate)
		warps[b].apply(warped[b*v.per:(b+1)*v.per], v.img[b*v.per:(b+1)*v.per], c.InC, o.Lo)
	}
	dlogits := make([]float32, v.n*c.NClasses)
	if err := inputGrad(ctx, v.ws, warped, dlogits, hooks.Merge(hs, v.seed), dwarped); err != nil {
		return err
	}
	gimg := make([]float32, v.per)
	g64 := make([]float64, v.per)
	for b, r := range v.res {
		s := b * v.per
		img, grad := v.img[s:s+v.per], v.grad[s:s+v.per]
		warps[b].transpose(gimg, dwarped[s:s+v.per], c.InC)
		tv := tvAdd(gimg, img, c.InC, c.InH, c.InW, float32(o.TV))
		var l2 float64
		for i, x := range img {
			gimg[i] += float32(o.L2) * x
			l2 += float64(x) * float64(x)
		}
		act := v.activation(b)
		r.Trace = append(r.Trace, act)
		r.Objective = append(r.Objective, act-o.TV*tv-o.L2*l2/2)
		if v.spec != nil {
			v.spec.backward(g64, gimg, v.sig[s:s+v.per])
			nn.To32(grad, g64)
		} else {
			copy(grad, gimg)
		}
		normalizeRMS(grad)
	}
	v.adam.Step(o.LR)
	if v.spec == nil {
		for i, x := range v.params {
			v.params[i] = clamp(x, o.Lo, o.Hi)
		}
	}
	v.render()
	return nil
}

// finish measures the final images untransformed and returns the results.
func (v *vis) finish(ctx context.Context, hs *hooks.Set) ([]*Maximized, error) {
	if err := v.ws.Forward(ctx, v.img, Pass{}, hs); err != nil {
		return nil, err
	}
	for b, r := range v.res {
		r.Trace = append(r.Trace, v.activation(b))
		r.Image = slices.Clone(v.img[b*v.per : (b+1)*v.per])
	}
	return v.res, nil
}

// normalizeRMS divides g by its root mean square, unless it is all zero.
func normalizeRMS(g []float32) {
	var ss float64
	for _, x := range g {
		ss += float64(x) * float64(x)
	}
	if ss == 0 || math.IsNaN(ss) || math.IsInf(ss, 0) {
		return
	}
	k := float32(1 / math.Sqrt(ss/float64(len(g))))
	for i := range g {
		g[i] *= k
	}
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
	if o.Decay == 0 && o.Param == FourierParam {
		o.Decay = 1
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
	case o.Param != PixelParam && o.Param != FourierParam:
		return bad("unknown parameterisation %d", o.Param)
	case o.Param == PixelParam && o.Decay != 0:
		return bad("decay %v needs the Fourier parameterisation", o.Decay)
	case !(o.Decay >= 0 && o.Decay <= MaxMaximizeDecay):
		return bad("decay %v outside [0, %v]", o.Decay, MaxMaximizeDecay)
	case !(o.Scale >= 0 && o.Scale < MaxMaximizeScale):
		return bad("scale %v outside [0, %v)", o.Scale, MaxMaximizeScale)
	case !(o.Rotate >= 0 && o.Rotate <= MaxMaximizeRotate):
		return bad("rotation %v outside [0, %v] degrees", o.Rotate, MaxMaximizeRotate)
	case o.Param == FourierParam && o.Init != nil:
		return bad("an initial image needs the pixel parameterisation")
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
