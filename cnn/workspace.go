package cnn

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/nn"
	"github.com/mechinterp/workbench/tensor"
)

// Pass says how a forward pass runs: PyTorch's model.train() or
// model.eval().
type Pass struct {
	// Train selects batch statistics in BatchNorm and active dropout;
	// otherwise BatchNorm uses the running statistics and dropout is the
	// identity (its mask all ones).
	Train bool
	// RNG draws the dropout masks in training. It is required when Train
	// is set and the model has dropout with p > 0.
	RNG *rand.Rand
}

// Workspace holds the activations of one forward pass (and, after the first
// Backward, their gradients) for a fixed batch size, laid out once. Reusing a
// Workspace makes forward and backward passes allocation-free. A Workspace
// belongs to one goroutine at a time; many Workspaces may share one Model.
type Workspace struct {
	m      *Model
	batch  int
	input  *tensor.Tensor // [batch, C, H, W]: hook_input
	dinput *tensor.Tensor
	act    []acts
	grad   []acts // gradients with respect to each activation, lazily laid out
	col    []float32
	probs  []float32
	labels []int32
	train  bool
	rng    *rand.Rand // the current pass's dropout RNG
}

// acts are one layer's buffers in a workspace: its output with the shape of
// its hook point, and what its backward pass needs. The same type holds the
// gradients with respect to them.
type acts struct {
	out            *tensor.Tensor
	xhat           *tensor.Tensor // BatchNorm: x̂
	mean, variance []float32      // BatchNorm: the batch statistics of the last training pass
	idx            []int32        // max-pool: argmax positions
	mask           *tensor.Tensor // dropout: the 0/1 mask
	sum            *tensor.Tensor // residual block: branch + shortcut (hook_resid_post)
	short          *tensor.Tensor // residual block with identity shortcut: its copy, when hooked
	branch, shcut  []acts

	// Set by the forward pass for the backward pass.
	statMean, statVar []float32 // the statistics BatchNorm used
	batchStats        bool      // BatchNorm used batch statistics (training)
	normEdited        bool      // a forward hook edited x̂
	shortCopied       bool      // a hook saw the identity shortcut's (or its gradient's) copy
	dropP             float32   // the drop probability applied
}

// layoutActs requests the buffers of layers ls for batch n from a (a plan
// or the real arena: call it twice). grad lays out gradient buffers, which
// need no statistics or indices.
func layoutActs(ls []*layer, a *tensor.Arena, n int, grad bool) []acts {
	as := make([]acts, len(ls))
	for i, l := range ls {
		s := &as[i]
		s.out = a.Alloc(l.out.dims(n, l.vector)...)
		switch l.kind {
		case kBN:
			s.xhat = a.Alloc(l.out.dims(n, false)...)
			if !grad {
				s.mean, s.variance = a.Alloc(l.out.C).Data, a.Alloc(l.out.C).Data
			}
		case kMaxPool:
			if !grad && a.Data() != nil {
				s.idx = make([]int32, n*l.out.size())
			}
		case kDropout:
			s.mask = a.Alloc(l.out.dims(n, false)...)
		case kBlock:
			s.branch = layoutActs(l.branch, a, n, grad)
			if l.residual {
				s.sum = a.Alloc(l.out.dims(n, false)...)
				if l.shortcut == nil {
					s.short = a.Alloc(l.in.dims(n, false)...)
				}
				s.shcut = layoutActs(l.shortcut, a, n, grad)
			}
		}
	}
	return as
}

func newActs(ls []*layer, n int, grad bool) []acts {
	plan := tensor.NewPlan()
	layoutActs(ls, plan, n, grad)
	return layoutActs(ls, tensor.NewArena(plan.Len()), n, grad)
}

// NewWorkspace returns a workspace for batches of batch images. It panics
// with a tensor.ShapeError if batch < 1 (callers reached by user input
// validate first).
func (m *Model) NewWorkspace(batch int) *Workspace {
	if batch < 1 {
		panic(tensor.ShapeError{Op: "cnn.NewWorkspace", Msg: fmt.Sprintf("batch %d", batch)})
	}
	c := m.Cfg
	return &Workspace{
		m: m, batch: batch,
		input:  tensor.New(batch, c.InC, c.InH, c.InW),
		act:    newActs(m.net, batch, false),
		col:    make([]float32, maxColLen(m.net)),
		probs:  make([]float32, batch*c.NClasses),
		labels: make([]int32, batch),
	}
}

// maxColLen returns the largest im2col scratch any convolution of ls needs.
func maxColLen(ls []*layer) int {
	n := 0
	for _, l := range ls {
		switch l.kind {
		case kConv:
			n = max(n, l.conv.ColLen())
		case kBlock:
			n = max(n, maxColLen(l.branch), maxColLen(l.shortcut))
		}
	}
	return n
}

// Model returns the model the workspace runs.
func (w *Workspace) Model() *Model { return w.m }

// Batch returns the number of images per pass.
func (w *Workspace) Batch() int { return w.batch }

// Logits returns the last forward pass's logits, [batch, n_classes], a view
// that the next pass overwrites.
func (w *Workspace) Logits() *tensor.Tensor { return w.act[len(w.act)-1].out }

// Forward runs the model on images ([batch, C, H, W] row-major, copied in),
// calling hs's forward hooks. It returns an error if images has the wrong
// length, if a training pass needs an RNG for dropout and has none, if ctx is
// done before it starts, or if a hook fails.
func (w *Workspace) Forward(ctx context.Context, images []float32, pass Pass, hs *hooks.Set) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(images) != len(w.input.Data) {
		return fmt.Errorf("cnn: forward got %d values, want %d images of %d×%d×%d", len(images), w.batch, w.m.Cfg.InC, w.m.Cfg.InH, w.m.Cfg.InW)
	}
	if pass.Train && pass.RNG == nil && w.m.Cfg.Dropout > 0 {
		return fmt.Errorf("cnn: a training pass through dropout %v needs an RNG", w.m.Cfg.Dropout)
	}
	w.train, w.rng = pass.Train, pass.RNG
	defer func() { w.rng = nil }()
	copy(w.input.Data, images)
	if err := hs.RunForward(w.m.nm.input, w.input); err != nil {
		return err
	}
	_, err := w.forwardSeq(w.m.net, w.act, w.input, hs)
	return err
}

// Loss returns the mean cross-entropy of the last forward pass's logits
// against labels [batch] and keeps what Backward needs. A label outside
// [0, n_classes) is an error.
func (w *Workspace) Loss(labels []int32) (float64, error) {
	if len(labels) != w.batch {
		return 0, fmt.Errorf("cnn: loss got %d labels for a batch of %d", len(labels), w.batch)
	}
	for i, l := range labels {
		if l < 0 || int(l) >= w.m.Cfg.NClasses {
			return 0, fmt.Errorf("cnn: label %d of image %d is outside [0, %d)", l, i, w.m.Cfg.NClasses)
		}
	}
	copy(w.labels, labels)
	return nn.CrossEntropyForward(w.probs, w.Logits().Data, w.labels, nil, w.batch, w.m.Cfg.NClasses), nil
}

// forwardSeq runs layers ls on x and returns the last output.
func (w *Workspace) forwardSeq(ls []*layer, as []acts, x *tensor.Tensor, hs *hooks.Set) (*tensor.Tensor, error) {
	for i, l := range ls {
		if err := w.forwardLayer(l, &as[i], x, hs); err != nil {
			return nil, err
		}
		x = as[i].out
	}
	return x, nil
}

// forwardLayer runs layer l on x into a.out and calls the hooks on its
// points.
func (w *Workspace) forwardLayer(l *layer, a *acts, x *tensor.Tensor, hs *hooks.Set) error {
	p, n := w.m.P, w.batch
	switch l.kind {
	case kConv:
		d := l.conv
		d.Batch = n
		nn.Conv2dForward(a.out.Data, x.Data, p.view(l.w), p.view(l.b), w.col, d)
	case kBN:
		if err := w.bnForward(l, a, x, hs); err != nil {
			return err
		}
	case kReLU:
		nn.ReLUForward(a.out.Data, x.Data)
	case kMaxPool:
		d := l.pool
		d.Batch = n
		nn.MaxPool2dForward(a.out.Data, a.idx, x.Data, d)
	case kAvgPool:
		d := l.pool
		d.Batch = n
		nn.AvgPool2dForward(a.out.Data, x.Data, d)
	case kDropout:
		a.dropP = 0
		rng := w.rng
		if w.train {
			a.dropP = l.drop
		} else {
			rng = nil
		}
		nn.DropoutMask(a.mask.Data, a.dropP, rng)
		if err := hs.RunForward(l.hookMask, a.mask); err != nil {
			return err
		}
		nn.DropoutForward(a.out.Data, x.Data, a.mask.Data, a.dropP)
	case kLinear:
		linearForward(a.out.Data, x.Data, p.view(l.w), p.view(l.b), n, l.in.size(), l.out.C)
	case kBlock:
		if err := w.blockForward(l, a, x, hs); err != nil {
			return err
		}
	}
	return hs.RunForward(l.hookOut, a.out)
}

// bnForward normalises x with batch or running statistics; a forward hook
// on x̂ edits it before the affine map.
func (w *Workspace) bnForward(l *layer, a *acts, x *tensor.Tensor, hs *hooks.Set) error {
	d := w.bnDims(l)
	mean, variance := a.mean, a.variance
	if !w.train {
		mean, variance = w.m.Buffers.view(l.rm), w.m.Buffers.view(l.rv)
	}
	a.statMean, a.statVar, a.batchStats = mean, variance, w.train
	gamma, beta := w.m.P.view(l.w), w.m.P.view(l.b)
	nn.BatchNormForward(a.out.Data, a.xhat.Data, mean, variance, x.Data, gamma, beta, d)
	a.normEdited = hs.HasForward(l.hookNorm)
	if !a.normEdited {
		return nil
	}
	if err := hs.RunForward(l.hookNorm, a.xhat); err != nil {
		return err
	}
	affine(a.out.Data, a.xhat.Data, gamma, beta, d.Batch, d.C, d.Spatial)
	return nil
}

func (w *Workspace) bnDims(l *layer) nn.BatchNorm {
	return nn.BatchNorm{Batch: w.batch, C: l.in.C, Spatial: l.in.H * l.in.W, Eps: float32(w.m.Cfg.BNEps), Training: w.train}
}

// blockForward computes ReLU(F(x) + shortcut(x)) (or ReLU(F(x)) for plain
// blocks) into a.out.
func (w *Workspace) blockForward(l *layer, a *acts, x *tensor.Tensor, hs *hooks.Set) error {
	br, err := w.forwardSeq(l.branch, a.branch, x, hs)
	if err != nil {
		return err
	}
	if err := hs.RunForward(l.hookBranch, br); err != nil {
		return err
	}
	if !l.residual {
		nn.ReLUForward(a.out.Data, br.Data)
		return nil
	}
	sc := x
	a.shortCopied = false
	switch {
	case l.shortcut != nil:
		if sc, err = w.forwardSeq(l.shortcut, a.shcut, x, hs); err != nil {
			return err
		}
	case hs.HasForward(l.hookShortcut):
		// The identity shortcut is x itself, which the branch's backward
		// pass still needs: a hook edits a copy.
		copy(a.short.Data, x.Data)
		sc, a.shortCopied = a.short, true
	}
	if err := hs.RunForward(l.hookShortcut, sc); err != nil {
		return err
	}
	tensor.Add(a.sum.Data, br.Data, sc.Data)
	if err := hs.RunForward(l.hookResidPost, a.sum); err != nil {
		return err
	}
	nn.ReLUForward(a.out.Data, a.sum.Data)
	return nil
}

// affine writes y = γ·x̂ + β per channel over [batch, c, s] (nil γ, β: 1, 0).
func affine(y, xhat, gamma, beta []float32, batch, c, s int) {
	for n := range batch {
		for ch := range c {
			g, b := float32(1), float32(0)
			if gamma != nil {
				g, b = gamma[ch], beta[ch]
			}
			o := (n*c + ch) * s
			ys, hs := y[o:o+s], xhat[o:o+s]
			for i, v := range hs {
				ys[i] = g*v + b
			}
		}
	}
}

// linearForward computes y [n, out] = x [n, in]·wᵀ + b with w [out, in]
// (PyTorch's nn.Linear layout).
func linearForward(y, x, w, b []float32, n, in, out int) {
	beta := float32(0)
	if b != nil {
		for i := range n {
			copy(y[i*out:(i+1)*out], b)
		}
		beta = 1
	}
	tensor.Gemm(false, true, n, out, in, 1, x, in, w, in, beta, y, out)
}

// linearBackward accumulates the gradients of linearForward: dx += dy·w,
// dw += dyᵀ·x, db += Σ_rows dy; nil gradients are skipped.
func linearBackward(dx, dw, db, dy, x, w []float32, n, in, out int) {
	if dx != nil {
		tensor.Gemm(false, false, n, in, out, 1, dy, out, w, in, 1, dx, in)
	}
	if dw != nil {
		tensor.Gemm(true, false, out, in, n, 1, dy, out, x, in, 1, dw, in)
	}
	if db != nil {
		for i := range n {
			tensor.Axpy(1, dy[i*out:(i+1)*out], db)
		}
	}
}
