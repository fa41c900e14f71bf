package cnn

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
	"github.com/mechinterp/workbench/workers"
)

// Model is a convolutional network: a validated Config, its parameters and
// its BatchNorm running statistics. A Model holds no hooks and no
// activations: Run and Workspace take those per call, so one Model is safe
// for concurrent use by many goroutines as long as nobody writes its
// parameters or statistics meanwhile (training passes never write them:
// UpdateRunningStats does, between steps).
type Model struct {
	Cfg     Config
	P       *Params // trainable parameters
	Buffers *Params // BatchNorm running_mean and running_var
	net     []*layer
	nm      names
}

// names holds the model-level hook point names.
type names struct {
	input hooks.Name
}

// InputPoint is the hook point of the input images, [batch, C, H, W]: a
// forward hook may edit them (occlusion), a backward hook receives the
// gradient with respect to them (saliency), which is computed only then.
const InputPoint hooks.Name = "hook_input"

// New returns a model for c, initialised as PyTorch does, seeded by c.Seed:
// ArchCNN's convolutions and every linear layer with PyTorch's default
// U(−1/√fan_in, 1/√fan_in), residual and plain networks' convolutions with
// torchvision's Kaiming normal (fan_out, ReLU gain), BatchNorm γ = 1, β = 0,
// running mean 0 and variance 1. c is completed with WithDefaults and
// validated.
func New(c Config) (*Model, error) {
	m, err := newZero(c)
	if err != nil {
		return nil, err
	}
	m.P.initialise(m.Cfg.Seed)
	m.Buffers.initialise(0)
	return m, nil
}

func newZero(c Config) (*Model, error) {
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	net, ps, bs := build(c)
	return &Model{Cfg: c, P: newParams(ps), Buffers: newParams(bs), net: net, nm: names{input: InputPoint}}, nil
}

// NewGrads returns a zeroed gradient buffer with the parameters' layout.
func (m *Model) NewGrads() *Params { return m.P.newLike() }

// Clone returns a deep copy of the model.
func (m *Model) Clone() *Model {
	c := *m
	c.P, c.Buffers = m.P.Clone(), m.Buffers.Clone()
	return &c
}

// Point is a hook point and the shape of one example's activation there:
// [C, H, W] for feature maps, [C] for vectors (the logits).
type Point struct {
	Name  hooks.Name
	Shape []int
}

// Points lists every hook point of the model with its per-example shape, in
// the order a forward pass reaches them.
func (m *Model) Points() []Point {
	c := m.Cfg
	out := []Point{{m.nm.input, []int{c.InC, c.InH, c.InW}}}
	return appendPoints(out, m.net)
}

func appendPoints(out []Point, ls []*layer) []Point {
	add := func(n hooks.Name, s shape, vector bool) {
		out = append(out, Point{n, s.dims(1, vector)[1:]})
	}
	for _, l := range ls {
		switch l.kind {
		case kBN:
			add(l.hookNorm, l.out, false)
		case kDropout:
			add(l.hookMask, l.out, false)
		case kBlock:
			out = appendPoints(out, l.branch)
			add(l.hookBranch, l.out, false)
			if l.residual {
				out = appendPoints(out, l.shortcut)
				add(l.hookShortcut, l.out, false)
				add(l.hookResidPost, l.out, false)
			}
		}
		add(l.hookOut, l.out, l.vector)
	}
	return out
}

// HookPoints lists every hook point name, in forward order.
func (m *Model) HookPoints() []hooks.Name {
	ps := m.Points()
	out := make([]hooks.Name, len(ps))
	for i, p := range ps {
		out[i] = p.Name
	}
	return out
}

// PointShape returns the per-example shape of the activation at the hook
// point called name ([C, H, W] or [C]); a "_grad" suffix is accepted.
func (m *Model) PointShape(name hooks.Name) ([]int, bool) {
	base := hooks.Name(strings.TrimSuffix(string(name), hooks.GradSuffix))
	for _, p := range m.Points() {
		if p.Name == base {
			return slices.Clone(p.Shape), true
		}
	}
	return nil, false
}

// ParseHook checks a hook name typed by a user against this model's points.
func (m *Model) ParseHook(s string) (hooks.Name, error) { return hooks.Parse(s, m.HookPoints()) }

// Act returns the activation called name from the workspace's last forward
// pass, a view that the next pass overwrites. An identity shortcut's
// activation is the block's input.
func (w *Workspace) Act(name hooks.Name) (*tensor.Tensor, bool) {
	if name == w.m.nm.input {
		return w.input, true
	}
	return lookup(w.m.net, w.act, w.input, name, false)
}

// Grad returns the gradient with respect to the activation called name after
// the last Backward, or false if there is none (hook_input's is computed
// only when a backward hook asks for it; an identity shortcut's gradient is
// hook_resid_post's).
func (w *Workspace) Grad(name hooks.Name) (*tensor.Tensor, bool) {
	if w.grad == nil {
		return nil, false
	}
	if name == w.m.nm.input {
		return w.dinput, true
	}
	return lookup(w.m.net, w.grad, nil, name, true)
}

// lookup finds the tensor of the point called name among layers ls with
// buffers as, whose input was x.
func lookup(ls []*layer, as []acts, x *tensor.Tensor, name hooks.Name, grad bool) (*tensor.Tensor, bool) {
	if name == "" {
		return nil, false
	}
	for i, l := range ls {
		a := &as[i]
		switch name {
		case l.hookOut:
			return a.out, true
		case l.hookNorm:
			return a.xhat, true
		case l.hookMask:
			return a.mask, true
		case l.hookBranch:
			return a.branch[len(a.branch)-1].out, true
		case l.hookResidPost:
			return a.sum, true
		case l.hookShortcut:
			switch {
			case l.shortcut != nil:
				return a.shcut[len(a.shcut)-1].out, true
			case a.shortCopied: // a hook saw (and may have edited) a copy
				return a.short, true
			case grad:
				return a.sum, true // identity: the gradient flows unchanged
			}
			return x, x != nil
		}
		if l.kind == kBlock {
			if t, ok := lookup(l.branch, a.branch, x, name, grad); ok {
				return t, true
			}
			if t, ok := lookup(l.shortcut, a.shcut, x, name, grad); ok {
				return t, true
			}
		}
		x = a.out
	}
	return nil, false
}

// Run runs the model in evaluation mode (running statistics, no dropout) on
// images [N, C, H, W] with the given hooks (nil for none) and returns the
// logits, [N, n_classes]. A mis-shaped tensor is an error, not a panic.
func (m *Model) Run(ctx context.Context, images *tensor.Tensor, hs *hooks.Set) (*tensor.Tensor, error) {
	n, err := m.CheckImages(images)
	if err != nil {
		return nil, err
	}
	ws := m.NewWorkspace(n)
	if err := ws.Forward(ctx, images.Data, Pass{}, hs); err != nil {
		return nil, err
	}
	return ws.Logits().Clone(), nil
}

// CheckImages validates a batch of images from outside the process: shape
// [N, C, H, W] with the model's C, H, W and N ≥ 1. It returns N.
func (m *Model) CheckImages(images *tensor.Tensor) (int, error) {
	c := m.Cfg
	if images == nil || len(images.Shape) != 4 || images.Shape[0] < 1 ||
		images.Shape[1] != c.InC || images.Shape[2] != c.InH || images.Shape[3] != c.InW ||
		len(images.Data) != tensor.Numel(images.Shape) {
		var got []int
		if images != nil {
			got = images.Shape
		}
		return 0, fmt.Errorf("cnn: images have shape %v, want [N, %d, %d, %d] with N ≥ 1", got, c.InC, c.InH, c.InW)
	}
	return images.Shape[0], nil
}

// Evaluate returns the mean cross-entropy and the accuracy of the model in
// evaluation mode on n images [n, C, H, W] with labels [n], run batch images
// at a time by nWorkers goroutines. The result does not depend on batch or
// nWorkers beyond float32 rounding of the logits (it is bit-identical for a
// fixed batch). It returns an error for mis-sized inputs, labels out of
// range, or ctx's error if cancelled.
func (m *Model) Evaluate(ctx context.Context, images []float32, labels []int32, batch, nWorkers int) (loss, acc float64, err error) {
	c := m.Cfg
	per := c.InC * c.InH * c.InW
	n := len(labels)
	switch {
	case n == 0 || len(images) != n*per:
		return 0, 0, fmt.Errorf("cnn: evaluate: %d values for %d labels of %d×%d×%d images", len(images), n, c.InC, c.InH, c.InW)
	case batch < 1 || nWorkers < 1:
		return 0, 0, fmt.Errorf("cnn: evaluate: batch %d and workers %d must be positive", batch, nWorkers)
	}
	chunks := (n + batch - 1) / batch
	type result struct {
		loss    float64
		correct int
		err     error
	}
	res := make([]result, chunks)
	nWorkers = min(nWorkers, chunks)
	full, tail := make([]*Workspace, nWorkers), make([]*Workspace, nWorkers) // per worker; the last chunk may be shorter
	workers.For(nWorkers, chunks, func(w, i int) {
		lo, hi := i*batch, min((i+1)*batch, n)
		ws := &full[w]
		if hi-lo < batch {
			ws = &tail[w]
		}
		if *ws == nil {
			*ws = m.NewWorkspace(hi - lo)
		}
		r := &res[i]
		if r.err = (*ws).Forward(ctx, images[lo*per:hi*per], Pass{}, nil); r.err != nil {
			return
		}
		if r.loss, r.err = (*ws).Loss(labels[lo:hi]); r.err != nil {
			return
		}
		r.loss *= float64(hi - lo)
		r.correct = countCorrect((*ws).Logits().Data, labels[lo:hi], c.NClasses)
	})
	correct := 0
	for _, r := range res {
		if r.err != nil {
			return 0, 0, r.err
		}
		loss += r.loss
		correct += r.correct
	}
	return loss / float64(n), float64(correct) / float64(n), nil
}

// countCorrect counts the rows of logits [len(labels), classes] whose first
// largest entry is the label.
func countCorrect(logits []float32, labels []int32, classes int) int {
	correct := 0
	for i, l := range labels {
		row := logits[i*classes : (i+1)*classes]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		if best == int(l) {
			correct++
		}
	}
	return correct
}
