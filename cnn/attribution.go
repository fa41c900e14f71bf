package cnn

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
)

// MaxIGSteps bounds the Riemann sum of IntegratedGradients.
const MaxIGSteps = 4096

// igBatch is the number of path points IntegratedGradients runs per pass.
const igBatch = 32

// Saliency returns the gradient of class's logit with respect to one input
// image, ∂logit_class/∂x as [C, H, W] (a vanilla saliency map, Simonyan et
// al. 2014), and the logit itself. The model runs in evaluation mode with
// hs's hooks (nil for none), so a saliency map can be taken under an
// ablation. The gradient is read by a backward hook on hook_input. An image
// of the wrong size, a non-finite pixel or a class out of range is an error.
func (m *Model) Saliency(ctx context.Context, image []float32, class int, hs *hooks.Set) (grad []float32, logit float64, err error) {
	if err := m.checkImage("saliency", image, class); err != nil {
		return nil, 0, err
	}
	ws := m.NewWorkspace(1)
	dlogits := make([]float32, m.Cfg.NClasses)
	dlogits[class] = 1
	grad = make([]float32, len(image))
	if err := inputGrad(ctx, ws, image, dlogits, hs, grad); err != nil {
		return nil, 0, err
	}
	return grad, float64(ws.Logits().Data[class]), nil
}

// inputGrad runs ws forward on images in evaluation mode with hs, then back
// from dlogits [batch, n_classes], and writes the gradient with respect to
// the images into dst [batch, C, H, W].
func inputGrad(ctx context.Context, ws *Workspace, images, dlogits []float32, hs *hooks.Set, dst []float32) error {
	grab := hooks.NewSet().AddBackward(InputPoint, func(g *tensor.Tensor, _ hooks.Name) *tensor.Tensor {
		copy(dst, g.Data)
		return nil
	})
	all := hooks.Merge(hs, grab)
	if err := ws.Forward(ctx, images, Pass{}, all); err != nil {
		return err
	}
	return ws.BackwardFrom(dlogits, nil, all)
}

// IGOptions configures IntegratedGradients.
type IGOptions struct {
	// Steps is the number m of points of the Riemann sum (midpoint rule),
	// 1 to MaxIGSteps; 0 means 64.
	Steps int
	// Baseline is the reference image x′, [C, H, W]; nil means all zeros
	// (a black image).
	Baseline []float32
}

// Attribution is an integrated-gradients attribution of one class's logit
// f to the pixels of one image.
type Attribution struct {
	// Map is the attribution per input value, [C, H, W].
	Map   []float32
	Class int
	// Logit is f(x) and BaselineLogit f(x′).
	Logit, BaselineLogit float64
	// Sum is Σ Map, which completeness says equals Logit − BaselineLogit
	// up to the error of the Riemann sum.
	Sum float64
	// Steps is the number of points of the Riemann sum.
	Steps int
}

// CompletenessError returns |Σ Map − (f(x) − f(x′))|, the error of the
// Riemann sum (Sundararajan et al. 2017, Proposition 1).
func (a *Attribution) CompletenessError() float64 {
	return math.Abs(a.Sum - (a.Logit - a.BaselineLogit))
}

// IntegratedGradients attributes class's logit f on one image x [C, H, W]
// to its pixels by integrated gradients (Sundararajan et al. 2017):
//
//	IG_i(x) = (x_i − x′_i) · ∫₀¹ ∂f/∂x_i (x′ + α(x − x′)) dα
//
// approximated by the midpoint Riemann sum over α_k = (k + ½)/m, k < m.
// The path points run in batches in evaluation mode with hs's hooks (nil
// for none). Completeness — Σ_i IG_i = f(x) − f(x′) — holds in the limit;
// Attribution.CompletenessError measures how far the sum is from it. An
// image or baseline of the wrong size, a non-finite value, a class out of
// range or Steps outside [0, MaxIGSteps] is an error.
func (m *Model) IntegratedGradients(ctx context.Context, image []float32, class int, o IGOptions, hs *hooks.Set) (*Attribution, error) {
	if err := m.checkImage("integrated gradients", image, class); err != nil {
		return nil, err
	}
	steps := o.Steps
	switch {
	case steps == 0:
		steps = 64
	case steps < 0 || steps > MaxIGSteps:
		return nil, fmt.Errorf("cnn: integrated gradients: %d steps, want 1 to %d", steps, MaxIGSteps)
	}
	base := o.Baseline
	if base == nil {
		base = make([]float32, len(image))
	} else if err := m.checkImage("integrated gradients baseline", base, class); err != nil {
		return nil, err
	}
	per, K := len(image), m.Cfg.NClasses
	batch := min(steps, igBatch)
	ws := m.NewWorkspace(batch)
	path := make([]float32, batch*per)
	grads := make([]float32, batch*per)
	dlogits := make([]float32, batch*K)
	sum := make([]float64, per) // Σ_k ∂f/∂x at the path points
	for k0 := 0; k0 < steps; k0 += batch {
		n := min(batch, steps-k0)
		clear(dlogits)
		for b := range batch {
			alpha := float32(0)
			if b < n {
				alpha = float32((float64(k0+b) + 0.5) / float64(steps))
				dlogits[b*K+class] = 1
			} // rows past n repeat the baseline with no gradient
			row := path[b*per : (b+1)*per]
			for i := range row {
				row[i] = base[i] + alpha*(image[i]-base[i])
			}
		}
		if err := inputGrad(ctx, ws, path, dlogits, hs, grads); err != nil {
			return nil, err
		}
		for b := range n {
			for i, g := range grads[b*per : (b+1)*per] {
				sum[i] += float64(g)
			}
		}
	}
	a := &Attribution{Map: make([]float32, per), Class: class, Steps: steps}
	for i, s := range sum {
		v := float64(image[i]-base[i]) * s / float64(steps)
		a.Map[i] = float32(v)
		a.Sum += v
	}
	// f(x) and f(x′) in one pass.
	ends := m.NewWorkspace(2)
	pair := append(slices.Clone(image), base...)
	if err := ends.Forward(ctx, pair, Pass{}, hs); err != nil {
		return nil, err
	}
	l := ends.Logits().Data
	a.Logit, a.BaselineLogit = float64(l[class]), float64(l[K+class])
	return a, nil
}

// checkImage validates one image [C, H, W] and a class from outside the
// process.
func (m *Model) checkImage(what string, image []float32, class int) error {
	c := m.Cfg
	if want := c.InC * c.InH * c.InW; len(image) != want {
		return fmt.Errorf("cnn: %s: image has %d values, want %d×%d×%d = %d", what, len(image), c.InC, c.InH, c.InW, want)
	}
	if class < 0 || class >= c.NClasses {
		return fmt.Errorf("cnn: %s: class %d outside [0, %d)", what, class, c.NClasses)
	}
	for i, v := range image {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("cnn: %s: pixel %d is %v", what, i, v)
		}
	}
	return nil
}
