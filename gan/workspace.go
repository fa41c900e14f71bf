package gan

import (
	"fmt"
	"math"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/nn"
	"github.com/mechinterp/workbench/tensor"
)

// Workspace holds the activations of one network's forward pass (and, after
// the first Backward, their gradients) for a fixed batch size, laid out
// once: reusing a Workspace makes forward and backward passes
// allocation-free. A Workspace belongs to one goroutine at a time; many
// Workspaces may share one Net.
type Workspace struct {
	n      *Net
	batch  int
	train  bool
	input  *tensor.Tensor // the hook point G.hook_z or D.hook_input
	dinput *tensor.Tensor
	act    []acts
	grad   []acts // lazily laid out by the first Backward
	col    []float32
}

// acts are one block's buffers: its layer output pre, BatchNorm's x̂ and
// output, and the block output. Without an activation function out aliases
// the last of the others; the gradient buffers alias alike.
type acts struct {
	pre, xhat, bnOut, out *tensor.Tensor
	mean, variance        []float32 // the batch statistics of the last training pass

	// Set by the forward pass for the backward pass.
	statMean, statVar []float32 // the statistics BatchNorm used
	batchStats        bool      // BatchNorm used batch statistics
	normEdited        bool      // a forward hook may have edited x̂
	outHooked         bool      // a forward hook may have edited out
}

func layoutActs(ks []*block, a *tensor.Arena, n int, grad bool) []acts {
	as := make([]acts, len(ks))
	for i, k := range ks {
		s := &as[i]
		dims := k.out.dims(n, k.vector)
		s.pre = a.Alloc(dims...)
		in := s.pre
		if k.bn {
			s.xhat, s.bnOut = a.Alloc(dims...), a.Alloc(dims...)
			if !grad {
				s.mean, s.variance = a.Alloc(k.out.C).Data, a.Alloc(k.out.C).Data
			}
			in = s.bnOut
		}
		s.out = in
		if k.act != actNone {
			s.out = a.Alloc(dims...)
		}
	}
	return as
}

func newActs(ks []*block, n int, grad bool) []acts {
	plan := tensor.NewPlan()
	layoutActs(ks, plan, n, grad)
	return layoutActs(ks, tensor.NewArena(plan.Len()), n, grad)
}

// NewWorkspace returns a workspace for batches of batch examples. It panics
// with a tensor.ShapeError if batch < 1 (callers reached by user input
// validate first).
func (n *Net) NewWorkspace(batch int) *Workspace {
	if batch < 1 {
		panic(tensor.ShapeError{Op: "gan.NewWorkspace", Msg: fmt.Sprintf("batch %d", batch)})
	}
	col := 0
	for _, k := range n.blocks {
		switch k.op {
		case opConv:
			col = max(col, k.conv.ColLen())
		case opConvT:
			col = max(col, k.convT.ColLen())
		}
	}
	return &Workspace{
		n: n, batch: batch,
		input: tensor.New(n.in.dims(batch, n.vecIn)...),
		act:   newActs(n.blocks, batch, false),
		col:   make([]float32, col),
	}
}

// Batch returns the number of examples per pass.
func (w *Workspace) Batch() int { return w.batch }

// Out returns the last forward pass's output, a view that the next pass
// overwrites: samples [batch, C, H, W] or [batch, data_dim] for the
// generator, logits [batch, 1] for the discriminator.
func (w *Workspace) Out() *tensor.Tensor { return w.act[len(w.act)-1].out }

// Forward runs the network on x (the input, [batch, ...] row-major, copied
// in), calling hs's forward hooks. train selects batch statistics in
// BatchNorm (PyTorch's model.train()); otherwise the running statistics are
// used. It returns an error if x has the wrong length or a hook fails.
func (w *Workspace) Forward(x []float32, train bool, hs *hooks.Set) error {
	if len(x) != len(w.input.Data) {
		return fmt.Errorf("gan: %s forward got %d values, want %d examples of %d", w.n.Name, len(x), w.batch, w.n.in.size())
	}
	w.train = train
	copy(w.input.Data, x)
	if err := hs.RunForward(w.n.hookIn, w.input); err != nil {
		return err
	}
	in := w.input
	for i, k := range w.n.blocks {
		if err := w.forwardBlock(k, &w.act[i], in, hs); err != nil {
			return err
		}
		in = w.act[i].out
	}
	return nil
}

func (w *Workspace) forwardBlock(k *block, a *acts, x *tensor.Tensor, hs *hooks.Set) error {
	p, n := w.n.P, w.batch
	switch k.op {
	case opLinear:
		linearForward(a.pre.Data, x.Data, p.view(k.w), p.view(k.b), n, k.in.size(), k.out.size())
	case opConv:
		d := k.conv
		d.Batch = n
		nn.Conv2dForward(a.pre.Data, x.Data, p.view(k.w), p.view(k.b), w.col, d)
	case opConvT:
		d := k.convT
		d.Batch = n
		nn.ConvTranspose2dForward(a.pre.Data, x.Data, p.view(k.w), p.view(k.b), w.col, d)
	}
	if k.hookPre != "" {
		if err := hs.RunForward(k.hookPre, a.pre); err != nil {
			return err
		}
	}
	in := a.pre
	if k.bn {
		if err := w.bnForward(k, a, hs); err != nil {
			return err
		}
		in = a.bnOut
	}
	switch k.act {
	case actReLU:
		nn.ReLUForward(a.out.Data, in.Data)
	case actLeaky:
		nn.LeakyReLUForward(a.out.Data, in.Data, w.n.slope)
	case actTanh:
		nn.TanhForward(a.out.Data, in.Data)
	}
	a.outHooked = hs.HasForward(k.hookOut)
	return hs.RunForward(k.hookOut, a.out)
}

func (w *Workspace) bnDims(k *block, train bool) nn.BatchNorm {
	return nn.BatchNorm{Batch: w.batch, C: k.out.C, Spatial: k.out.H * k.out.W, Eps: w.n.eps, Training: train}
}

// bnForward normalises a.pre with batch or running statistics; a forward
// hook on x̂ edits it before the affine map.
func (w *Workspace) bnForward(k *block, a *acts, hs *hooks.Set) error {
	mean, variance := a.mean, a.variance
	if !w.train {
		mean, variance = w.n.Buffers.view(k.rm), w.n.Buffers.view(k.rv)
	}
	a.statMean, a.statVar, a.batchStats = mean, variance, w.train
	d := w.bnDims(k, w.train)
	gamma, beta := w.n.P.view(k.gamma), w.n.P.view(k.beta)
	nn.BatchNormForward(a.bnOut.Data, a.xhat.Data, mean, variance, a.pre.Data, gamma, beta, d)
	a.normEdited = hs.HasForward(k.hookNorm)
	if !a.normEdited {
		return nil
	}
	if err := hs.RunForward(k.hookNorm, a.xhat); err != nil {
		return err
	}
	s := d.Spatial
	for i := range d.Batch {
		for c := range d.C {
			o := (i*d.C + c) * s
			g, b := gamma[c], beta[c]
			for j, v := range a.xhat.Data[o : o+s] {
				a.bnOut.Data[o+j] = g*v + b
			}
		}
	}
	return nil
}

// UpdateRunningStats folds the batch statistics of the workspace's last
// training pass into the network's BatchNorm running statistics, as
// PyTorch's forward in training mode does (momentum Config.BNMomentum,
// unbiased variance). It writes the Net: no other goroutine may use it
// meanwhile. It does nothing after an evaluation pass.
func (w *Workspace) UpdateRunningStats() {
	if !w.train {
		return
	}
	for i, k := range w.n.blocks {
		if !k.bn {
			continue
		}
		a := &w.act[i]
		nn.BatchNormUpdateRunning(w.n.Buffers.view(k.rm), w.n.Buffers.view(k.rv), a.mean, a.variance,
			w.batch*k.out.H*k.out.W, w.n.mom)
	}
}

// Backward back-propagates dout, the gradient with respect to the output of
// the last forward pass ([batch, ...] like Out), ACCUMULATING parameter
// gradients into g (nil: not needed) and the gradient with respect to the
// input into dx (nil: not needed), and calls hs's backward hooks with the
// gradient with respect to each hooked activation. Forward hooks' edits are
// part of the forward pass: Backward differentiates the values the hooks
// left, treating each edit as the identity. It returns an error if dout or
// dx has the wrong length or a hook fails.
func (w *Workspace) Backward(dout []float32, g *Params, dx []float32, hs *hooks.Set) error {
	gs := w.gradActs()
	last := len(gs) - 1
	if len(dout) != len(gs[last].out.Data) {
		return fmt.Errorf("gan: %s backward got %d output gradients, want %d", w.n.Name, len(dout), len(gs[last].out.Data))
	}
	if dx != nil && len(dx) != len(w.input.Data) {
		return fmt.Errorf("gan: %s backward got %d input gradients, want %d", w.n.Name, len(dx), len(w.input.Data))
	}
	copy(gs[last].out.Data, dout)
	wantIn := dx != nil || hs.HasBackward(w.n.hookIn)
	for i := last; i >= 0; i-- {
		x, din := w.input, (*tensor.Tensor)(nil)
		switch {
		case i > 0:
			x, din = w.act[i-1].out, gs[i-1].out
			clear(din.Data)
		case wantIn:
			din = w.dinput
			clear(din.Data)
		}
		if err := w.backwardBlock(w.n.blocks[i], &w.act[i], &gs[i], x, din, g, hs); err != nil {
			return err
		}
	}
	if !wantIn {
		return nil
	}
	if err := hs.RunBackward(w.n.hookIn, w.dinput); err != nil {
		return err
	}
	if dx != nil {
		tensor.Axpy(1, w.dinput.Data, dx)
	}
	return nil
}

func (w *Workspace) gradActs() []acts {
	if w.grad == nil {
		w.grad = newActs(w.n.blocks, w.batch, true)
		w.dinput = tensor.New(w.input.Shape...)
	}
	return w.grad
}

// backwardBlock back-propagates block k from the gradient in ga.out,
// accumulating into dx (nil: not needed) and the parameter gradients g.
func (w *Workspace) backwardBlock(k *block, a, ga *acts, x, dx *tensor.Tensor, g *Params, hs *hooks.Set) error {
	if err := hs.RunBackward(k.hookOut, ga.out); err != nil {
		return err
	}
	in, gin := a.pre, ga.pre
	if k.bn {
		in, gin = a.bnOut, ga.bnOut
	}
	if k.act != actNone {
		clear(gin.Data)
	}
	switch k.act {
	case actReLU:
		nn.ReLUBackward(gin.Data, ga.out.Data, in.Data)
	case actLeaky:
		nn.LeakyReLUBackward(gin.Data, ga.out.Data, in.Data, w.n.slope)
	case actTanh:
		if a.outHooked {
			tanhBackwardFromInput(gin.Data, ga.out.Data, in.Data)
		} else {
			nn.TanhBackward(gin.Data, ga.out.Data, a.out.Data)
		}
	}
	if k.bn {
		if err := w.bnBackward(k, a, ga, g, hs); err != nil {
			return err
		}
	}
	if k.hookPre != "" {
		if err := hs.RunBackward(k.hookPre, ga.pre); err != nil {
			return err
		}
	}
	p, n := w.n.P, w.batch
	var dxd []float32
	if dx != nil {
		dxd = dx.Data
	}
	switch k.op {
	case opLinear:
		linearBackward(dxd, g.grad(k.w), g.grad(k.b), ga.pre.Data, x.Data, p.view(k.w), n, k.in.size(), k.out.size())
	case opConv:
		d := k.conv
		d.Batch = n
		nn.Conv2dBackward(dxd, g.grad(k.w), g.grad(k.b), ga.pre.Data, x.Data, p.view(k.w), w.col, d)
	case opConvT:
		d := k.convT
		d.Batch = n
		nn.ConvTranspose2dBackward(dxd, g.grad(k.w), g.grad(k.b), ga.pre.Data, x.Data, p.view(k.w), w.col, d)
	}
	return nil
}

// bnBackward writes ga.pre, the gradient with respect to BatchNorm's input,
// from ga.bnOut; with a hook on x̂ (editing it, or wanting its gradient) it
// goes through x̂ explicitly.
func (w *Workspace) bnBackward(k *block, a, ga *acts, g *Params, hs *hooks.Set) error {
	d := w.bnDims(k, a.batchStats)
	gamma := w.n.P.view(k.gamma)
	clear(ga.pre.Data)
	if !a.normEdited && !hs.HasBackward(k.hookNorm) {
		nn.BatchNormBackward(ga.pre.Data, g.grad(k.gamma), g.grad(k.beta), ga.bnOut.Data, a.xhat.Data, a.statVar, gamma, d)
		return nil
	}
	clear(ga.xhat.Data)
	nn.BatchNormAffineBackward(ga.xhat.Data, g.grad(k.gamma), g.grad(k.beta), ga.bnOut.Data, a.xhat.Data, gamma, d)
	if err := hs.RunBackward(k.hookNorm, ga.xhat); err != nil {
		return err
	}
	nn.BatchNormNormalizeBackward(ga.pre.Data, ga.xhat.Data, a.pre.Data, a.statMean, a.statVar, d)
	return nil
}

// tanhBackwardFromInput accumulates dx += dy·(1 − tanh²(x)) from the input
// x, for when a hook may have edited the saved output.
func tanhBackwardFromInput(dx, dy, x []float32) {
	for i, v := range x {
		t := float32(math.Tanh(float64(v)))
		dx[i] += dy[i] * (1 - t*t)
	}
}

// linearForward computes y [n, out] = x [n, in]·wᵀ + b with w [out, in]
// (PyTorch's nn.Linear layout); b may be nil.
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

// Act returns the activation called name from the workspace's last forward
// pass, a view that the next pass overwrites.
func (w *Workspace) Act(name hooks.Name) (*tensor.Tensor, bool) {
	if name == w.n.hookIn {
		return w.input, true
	}
	return lookup(w.n.blocks, w.act, name)
}

// Grad returns the gradient with respect to the activation called name
// after the last Backward, or false if there is none (the input's is
// computed only when asked for).
func (w *Workspace) Grad(name hooks.Name) (*tensor.Tensor, bool) {
	if w.grad == nil {
		return nil, false
	}
	if name == w.n.hookIn {
		return w.dinput, true
	}
	return lookup(w.n.blocks, w.grad, name)
}

func lookup(ks []*block, as []acts, name hooks.Name) (*tensor.Tensor, bool) {
	if name == "" {
		return nil, false
	}
	for i, k := range ks {
		switch name {
		case k.hookPre:
			return as[i].pre, true
		case k.hookNorm:
			return as[i].xhat, true
		case k.hookOut:
			return as[i].out, true
		}
	}
	return nil, false
}
