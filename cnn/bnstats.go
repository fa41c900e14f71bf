package cnn

import (
	"context"
	"math"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
)

// BNStat compares, for one BatchNorm layer, the statistics of its input on
// a batch with the running statistics it normalises with in evaluation.
// Every slice has one value per channel, [C].
type BNStat struct {
	Layer string     // the layer's name: "bn1", "layer2.0.bn1", "layer2.0.downsample.1"
	Input hooks.Name // the point whose activation the layer normalises ("conv1.hook_out")
	// BatchMean and BatchVar are the mean and (biased) variance of the
	// input over the batch and the pixels, what training-mode BatchNorm
	// normalises with.
	BatchMean, BatchVar []float64
	// RunningMean and RunningVar are the model's running estimates
	// (PyTorch's running_mean and running_var), used in evaluation.
	RunningMean, RunningVar []float64
	Gamma, Beta             []float64 // the learned affine map γ·x̂ + β
	// NormMean and NormVar are the mean and variance of x̂ as the pass
	// computed it (bn.hook_normalized): 0 and about 1 in training mode; in
	// evaluation they show how far the batch is from the running
	// statistics.
	NormMean, NormVar []float64
	// Train reports whether the pass used batch statistics.
	Train bool
}

// BatchNormStats returns the statistics of every BatchNorm layer, in
// forward order, from the workspace's last forward pass: the moments of
// each layer's input (as any forward hook left it) and of its x̂, beside
// the model's running statistics and γ, β.
func (w *Workspace) BatchNormStats() []BNStat {
	var out []BNStat
	for _, s := range bnInputs(w.m.net, w.act, w.input, w.m.nm.input, nil) {
		l, a := s.l, s.a
		st := BNStat{Layer: l.name, Input: s.name, Train: a.batchStats,
			RunningMean: widen(w.m.Buffers.view(l.rm)), RunningVar: widen(w.m.Buffers.view(l.rv)),
			Gamma: widen(w.m.P.view(l.w)), Beta: widen(w.m.P.view(l.b))}
		st.BatchMean, st.BatchVar = channelMoments(s.x, l.in.C)
		st.NormMean, st.NormVar = channelMoments(a.xhat, l.in.C)
		out = append(out, st)
	}
	return out
}

// BatchNormStats runs images [N, C, H, W] through the model once, in
// training mode (batch statistics, pass.RNG for dropout) or evaluation, with
// hs's hooks, and returns the workspace's BatchNormStats. The model is not
// changed: a training-mode pass does not update the running statistics. A
// mis-shaped batch is an error.
func (m *Model) BatchNormStats(ctx context.Context, images *tensor.Tensor, pass Pass, hs *hooks.Set) ([]BNStat, error) {
	n, err := m.CheckImages(images)
	if err != nil {
		return nil, err
	}
	ws := m.NewWorkspace(n)
	if err := ws.Forward(ctx, images.Data, pass, hs); err != nil {
		return nil, err
	}
	return ws.BatchNormStats(), nil
}

// bnInput is a BatchNorm layer, its buffers and its input tensor and point.
type bnInput struct {
	l    *layer
	a    *acts
	x    *tensor.Tensor
	name hooks.Name
}

// bnInputs lists the BatchNorm layers among ls (buffers as, input x at the
// point called name) in forward order with their inputs.
func bnInputs(ls []*layer, as []acts, x *tensor.Tensor, name hooks.Name, dst []bnInput) []bnInput {
	for i, l := range ls {
		switch l.kind {
		case kBN:
			dst = append(dst, bnInput{l, &as[i], x, name})
		case kBlock:
			dst = bnInputs(l.branch, as[i].branch, x, name, dst)
			dst = bnInputs(l.shortcut, as[i].shcut, x, name, dst)
		}
		x, name = as[i].out, l.hookOut
	}
	return dst
}

// channelMoments returns the per-channel mean and biased variance of t
// [N, c, ...] over the batch and the pixels, in float64.
func channelMoments(t *tensor.Tensor, c int) (mean, variance []float64) {
	mean, variance = make([]float64, c), make([]float64, c)
	n := t.Shape[0]
	p := len(t.Data) / (n * c)
	for ch := range c {
		var s, sq float64
		for b := range n {
			for _, v := range t.Data[(b*c+ch)*p : (b*c+ch+1)*p] {
				s += float64(v)
				sq += float64(v) * float64(v)
			}
		}
		cnt := float64(n * p)
		mean[ch] = s / cnt
		variance[ch] = math.Max(sq/cnt-mean[ch]*mean[ch], 0)
	}
	return mean, variance
}

// widen returns x as float64.
func widen(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}
