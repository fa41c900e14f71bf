package cnn

import (
	"fmt"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/nn"
	"github.com/mechinterp/workbench/tensor"
)

// Backward back-propagates the loss of the last Loss call through the last
// forward pass, ACCUMULATING parameter gradients into g (zero it first for a
// fresh gradient; nil computes activation gradients only), and calls hs's
// backward hooks with the gradient with respect to each hooked activation.
// The gradient with respect to the input images (hook_input) is computed
// only when a backward hook asks for it. Forward hooks' edits are part of the
// forward pass: Backward differentiates the values the hooks left, treating
// each edit as the identity.
func (w *Workspace) Backward(g *Params, hs *hooks.Set) error {
	return w.BackwardScaled(g, hs, 1)
}

// BackwardScaled is Backward for the loss multiplied by scale: data-parallel
// training weights each shard's mean loss by its share of the batch.
func (w *Workspace) BackwardScaled(g *Params, hs *hooks.Set, scale float32) error {
	dl := w.gradActs()[len(w.act)-1].out.Data
	clear(dl)
	nn.CrossEntropyBackward(dl, w.probs, w.labels, nil, w.batch, w.m.Cfg.NClasses, scale)
	return w.backward(g, hs)
}

// BackwardFrom back-propagates a caller-supplied gradient with respect to
// the logits, dlogits [batch, n_classes], through the last forward pass, as
// Backward does: for metrics other than the loss (a logit difference,
// one class's logit for a saliency map).
func (w *Workspace) BackwardFrom(dlogits []float32, g *Params, hs *hooks.Set) error {
	dl := w.gradActs()[len(w.act)-1].out.Data
	if len(dlogits) != len(dl) {
		return fmt.Errorf("cnn: dlogits has %d values, want %d", len(dlogits), len(dl))
	}
	copy(dl, dlogits)
	return w.backward(g, hs)
}

func (w *Workspace) gradActs() []acts {
	if w.grad == nil {
		w.grad = newActs(w.m.net, w.batch, true)
		w.dinput = tensor.New(w.input.Shape...)
	}
	return w.grad
}

func (w *Workspace) backward(g *Params, hs *hooks.Set) error {
	var dx *tensor.Tensor
	if hs.HasBackward(w.m.nm.input) {
		dx = w.dinput
		clear(dx.Data)
	}
	if err := w.backwardSeq(w.m.net, w.act, w.grad, w.input, dx, g, hs); err != nil {
		return err
	}
	if dx != nil {
		return hs.RunBackward(w.m.nm.input, dx)
	}
	return nil
}

// backwardSeq back-propagates through layers ls, whose input was x, from
// the gradient in gs[len(ls)-1].out, accumulating into dx (nil: not needed).
// It clears the intermediate gradients it owns; dx is only added to.
func (w *Workspace) backwardSeq(ls []*layer, as, gs []acts, x, dx *tensor.Tensor, g *Params, hs *hooks.Set) error {
	for i := len(ls) - 1; i >= 0; i-- {
		in, din := x, dx
		if i > 0 {
			in, din = as[i-1].out, gs[i-1].out
			clear(din.Data)
		}
		if err := w.backwardLayer(ls[i], &as[i], &gs[i], in, din, g, hs); err != nil {
			return err
		}
	}
	return nil
}

// grads returns g's view at sp, or nil when g is nil or sp empty.
func grads(g *Params, sp span) []float32 {
	if g == nil {
		return nil
	}
	return g.view(sp)
}

// dataOf returns t's data, or nil for a nil tensor.
func dataOf(t *tensor.Tensor) []float32 {
	if t == nil {
		return nil
	}
	return t.Data
}

// backwardLayer calls the backward hooks on l's output gradient ga.out, then
// accumulates l's parameter gradients into g and its input gradient into dx.
func (w *Workspace) backwardLayer(l *layer, a, ga *acts, x, dx *tensor.Tensor, g *Params, hs *hooks.Set) error {
	if err := hs.RunBackward(l.hookOut, ga.out); err != nil {
		return err
	}
	p, n, dy, dxd := w.m.P, w.batch, ga.out.Data, dataOf(dx)
	switch l.kind {
	case kConv:
		d := l.conv
		d.Batch = n
		dw, db := grads(g, l.w), grads(g, l.b)
		if dxd != nil || dw != nil || db != nil {
			nn.Conv2dBackward(dxd, dw, db, dy, x.Data, p.view(l.w), w.col, d)
		}
	case kBN:
		return w.bnBackward(l, a, ga, x, dxd, g, hs)
	case kReLU:
		reluBackward(dxd, dy, x.Data)
	case kMaxPool:
		d := l.pool
		d.Batch = n
		nn.MaxPool2dBackward(dxd, dy, a.idx, d)
	case kAvgPool:
		d := l.pool
		d.Batch = n
		nn.AvgPool2dBackward(dxd, dy, d)
	case kDropout:
		if hs.HasBackward(l.hookMask) {
			// ∂loss/∂mask = dy·x/(1−p)
			s := 1 / (1 - a.dropP)
			for i, v := range dy {
				ga.mask.Data[i] = v * x.Data[i] * s
			}
			if err := hs.RunBackward(l.hookMask, ga.mask); err != nil {
				return err
			}
		}
		nn.DropoutBackward(dxd, dy, a.mask.Data, a.dropP)
	case kLinear:
		linearBackward(dxd, grads(g, l.w), grads(g, l.b), dy, x.Data, p.view(l.w), n, l.in.size(), l.out.C)
	case kBlock:
		return w.blockBackward(l, a, ga, x, dx, g, hs)
	}
	return nil
}

// bnBackward back-propagates through BatchNorm: fused, or in two halves
// around x̂ when a hook edited x̂ or wants its gradient.
func (w *Workspace) bnBackward(l *layer, a, ga *acts, x *tensor.Tensor, dx []float32, g *Params, hs *hooks.Set) error {
	d := w.bnDims(l)
	d.Training = a.batchStats
	gamma, dgamma, dbeta := w.m.P.view(l.w), grads(g, l.w), grads(g, l.b)
	if !a.normEdited && !hs.HasBackward(l.hookNorm) {
		nn.BatchNormBackward(dx, dgamma, dbeta, ga.out.Data, a.xhat.Data, a.statVar, gamma, d)
		return nil
	}
	dxhat := ga.xhat
	clear(dxhat.Data)
	nn.BatchNormAffineBackward(dxhat.Data, dgamma, dbeta, ga.out.Data, a.xhat.Data, gamma, d)
	if err := hs.RunBackward(l.hookNorm, dxhat); err != nil {
		return err
	}
	nn.BatchNormNormalizeBackward(dx, dxhat.Data, x.Data, a.statMean, a.statVar, d)
	return nil
}

// blockBackward back-propagates through a residual or plain block.
func (w *Workspace) blockBackward(l *layer, a, ga *acts, x, dx *tensor.Tensor, g *Params, hs *hooks.Set) error {
	last := len(l.branch) - 1
	dbr := ga.branch[last].out // gradient with respect to F(x)
	if !l.residual {
		clear(dbr.Data)
		reluBackward(dbr.Data, ga.out.Data, a.branch[last].out.Data)
		if err := hs.RunBackward(l.hookBranch, dbr); err != nil {
			return err
		}
		return w.backwardSeq(l.branch, a.branch, ga.branch, x, dx, g, hs)
	}
	dsum := ga.sum
	clear(dsum.Data)
	reluBackward(dsum.Data, ga.out.Data, a.sum.Data)
	if err := hs.RunBackward(l.hookResidPost, dsum); err != nil {
		return err
	}
	// The sum passes its gradient to both terms: shortcut first (the
	// reverse of the forward order), then the branch.
	if l.shortcut != nil {
		ds := ga.shcut[len(l.shortcut)-1].out
		copy(ds.Data, dsum.Data)
		if err := hs.RunBackward(l.hookShortcut, ds); err != nil {
			return err
		}
		if err := w.backwardSeq(l.shortcut, a.shcut, ga.shcut, x, dx, g, hs); err != nil {
			return err
		}
	} else {
		ds := dsum
		ga.shortCopied = hs.HasBackward(l.hookShortcut)
		if ga.shortCopied {
			ds = ga.short
			copy(ds.Data, dsum.Data)
			if err := hs.RunBackward(l.hookShortcut, ds); err != nil {
				return err
			}
		}
		if dx != nil {
			tensor.Axpy(1, ds.Data, dx.Data)
		}
	}
	copy(dbr.Data, dsum.Data)
	if err := hs.RunBackward(l.hookBranch, dbr); err != nil {
		return err
	}
	return w.backwardSeq(l.branch, a.branch, ga.branch, x, dx, g, hs)
}

// reluBackward accumulates dx += dy where x > 0: ReLU's derivative taken as
// LeakyReLU's with slope 0, whose kernel selects without a data-dependent
// branch (several times faster on activations of random sign than
// nn.ReLUBackward). The two agree for finite dy.
func reluBackward(dx, dy, x []float32) { nn.LeakyReLUBackward(dx, dy, x, 0) }
