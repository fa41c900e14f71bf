package cnn

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/optim"
)

// DepthOptions configures TrainDepth and CompareDepth: SGD with momentum
// on a fixed data order, as in the ResNet paper's CIFAR runs but shorter.
// The zero value takes the defaults named on each field.
type DepthOptions struct {
	Steps    int     // SGD steps (0: 200)
	Batch    int     // images per step (0: 64)
	LR       float64 // learning rate (0: 0.05)
	Momentum float64 // SGD momentum (0: 0.9)
	// Probe is the number of images, the first of the data, on which the
	// per-layer statistics are measured (0: 64).
	Probe int
	// Seed fixes the data order (a shuffle per epoch); each network's
	// initialisation comes from its Config.Seed.
	Seed uint64
	// Shards cuts every batch for data-parallel steps (0: 2); Workers
	// goroutines run them (0: 1). Results do not depend on Workers.
	Shards, Workers int
}

// LayerStat is one layer's statistics on the probe batch in training mode
// (batch statistics in BatchNorm).
type LayerStat struct {
	// Point is the layer's output: a top-level ReLU's ("relu1.hook_out",
	// the stem's in a residual or plain network) or a block's
	// ("layerS.I.hook_out").
	Point hooks.Name
	// Std is the standard deviation of the activation at Point over the
	// whole probe batch (every image, channel and pixel).
	Std float64
	// BranchStd is that of the block's residual branch F(x)
	// (hook_branch), its last BatchNorm's output before the addition and
	// the ReLU: the "responses" of He et al. 2016, Fig. 7. 0 for the stem.
	BranchStd float64
	// GradStd is the standard deviation of ∂loss/∂activation at Point, the
	// gradient that reaches the layer.
	GradStd float64
}

// DepthRun is one network's training run and its statistics.
type DepthRun struct {
	Config Config
	// Layers is the number of weighted layers: convolutions on the main
	// path plus the linear head (ResNet-20 has 20).
	Layers int
	// Loss is the training loss of every step (the mean cross-entropy of
	// the step's batch, before its update).
	Loss []float64
	// Init and Trained are the per-layer statistics before and after
	// training, stem first; InitLoss and TrainedLoss are the probe batch's
	// loss then.
	Init, Trained         []LayerStat
	InitLoss, TrainedLoss float64
}

// FinalLoss returns the mean training loss of the last tenth of the steps
// (at least one), a less noisy end point than the last step.
func (r *DepthRun) FinalLoss() float64 {
	n := max(1, len(r.Loss)/10)
	var s float64
	for _, l := range r.Loss[len(r.Loss)-n:] {
		s += l
	}
	return s / float64(n)
}

// Layers returns the number of weighted layers of c's main path: the
// convolutions (not the projection shortcuts) and the linear head.
func (c Config) Layers() int {
	switch c.Arch {
	case ArchCNN:
		return len(c.Channels) + 1
	case ArchResNet, ArchPlain:
		per := 2
		if c.Block == BlockBottleneck {
			per = 3
		}
		n := 0
		for _, s := range c.Stages {
			n += s
		}
		return 2 + per*n
	}
	return 0
}

// CompareDepth trains every config with TrainDepth on the same images and
// labels in the same order, one after another: plain and residual networks
// of equal depth side by side, to see the degradation problem (He et al.
// 2016, §4.2: deeper plain networks train to a higher training loss, their
// responses and gradients drift with depth, while residual ones train).
func CompareDepth(ctx context.Context, cfgs []Config, images []float32, labels []int32, o DepthOptions) ([]*DepthRun, error) {
	var out []*DepthRun
	for _, c := range cfgs {
		r, err := TrainDepth(ctx, c, images, labels, o)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// TrainDepth trains a fresh network of config c on images [n, C, H, W]
// with labels [n] for o.Steps data-parallel SGD steps and returns its
// loss curve and its per-layer statistics on the probe batch at
// initialisation and after training. Inputs of the wrong size, labels out
// of range or bad options are errors; ctx is checked between steps.
func TrainDepth(ctx context.Context, c Config, images []float32, labels []int32, o DepthOptions) (*DepthRun, error) {
	o = o.withDefaults()
	m, err := New(c)
	if err != nil {
		return nil, err
	}
	c = m.Cfg
	per := c.InC * c.InH * c.InW
	n := len(labels)
	switch {
	case o.Steps < 1 || o.Batch < 1 || o.Probe < 1 || o.Shards < 1 || o.Workers < 1:
		return nil, fmt.Errorf("cnn: depth: steps %d, batch %d, probe %d, shards %d and workers %d must be positive", o.Steps, o.Batch, o.Probe, o.Shards, o.Workers)
	case !(o.LR > 0) || math.IsInf(o.LR, 0) || !(o.Momentum >= 0 && o.Momentum < 1):
		return nil, fmt.Errorf("cnn: depth: learning rate %v must be positive, momentum %v in [0, 1)", o.LR, o.Momentum)
	case len(images) != n*per:
		return nil, fmt.Errorf("cnn: depth: %d values for %d labels of %d×%d×%d images", len(images), n, c.InC, c.InH, c.InW)
	case n < max(o.Batch, o.Probe):
		return nil, fmt.Errorf("cnn: depth: %d images do not fill a batch of %d and a probe of %d", n, o.Batch, o.Probe)
	}
	for i, l := range labels {
		if l < 0 || int(l) >= c.NClasses {
			return nil, fmt.Errorf("cnn: depth: label %d of image %d outside [0, %d)", l, i, c.NClasses)
		}
	}

	run := &DepthRun{Config: c, Layers: c.Layers()}
	probe := m.NewWorkspace(o.Probe)
	probeX, probeY := images[:o.Probe*per], labels[:o.Probe]
	if run.Init, run.InitLoss, err = probe.layerStats(ctx, probeX, probeY); err != nil {
		return nil, err
	}

	par, err := m.NewParallel(o.Batch, o.Shards, o.Workers)
	if err != nil {
		return nil, err
	}
	defer par.Close()
	g := m.NewGrads()
	var params []optim.Param
	gl := g.List()
	for i, p := range m.P.List() {
		params = append(params, optim.Param{Name: p.Name, Data: p.Data, Grad: gl[i].Data, Decay: p.Decay})
	}
	sgd, err := optim.NewSGD(params, optim.SGDConfig{Momentum: o.Momentum})
	if err != nil {
		return nil, err
	}
	perm := make([]int, n)
	bx, by := make([]float32, o.Batch*per), make([]int32, o.Batch)
	perEpoch := n / o.Batch
	for s := range o.Steps {
		epoch, b := s/perEpoch, s%perEpoch
		if b == 0 {
			for i := range perm {
				perm[i] = i
			}
			rng := rand.New(rand.NewPCG(o.Seed, uint64(epoch)))
			rng.Shuffle(n, func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		}
		for i, k := range perm[b*o.Batch : (b+1)*o.Batch] {
			copy(bx[i*per:(i+1)*per], images[k*per:(k+1)*per])
			by[i] = labels[k]
		}
		loss, err := par.Step(ctx, bx, by, o.Seed+uint64(s), g)
		if err != nil {
			return nil, err
		}
		sgd.Step(o.LR)
		run.Loss = append(run.Loss, loss)
	}
	if run.Trained, run.TrainedLoss, err = probe.layerStats(ctx, probeX, probeY); err != nil {
		return nil, err
	}
	return run, nil
}

func (o DepthOptions) withDefaults() DepthOptions {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.Steps, 200)
	def(&o.Batch, 64)
	def(&o.Probe, 64)
	def(&o.Shards, 2)
	def(&o.Workers, 1)
	if o.LR == 0 {
		o.LR = 0.05
	}
	if o.Momentum == 0 {
		o.Momentum = 0.9
	}
	return o
}

// layerStats runs the workspace forward and backward on (x, y) in training
// mode without touching the model and returns the statistics of every
// top-level ReLU (the stem's) and block output, and the loss. Dropout, if any, draws from a
// fixed seed.
func (w *Workspace) layerStats(ctx context.Context, x []float32, y []int32) ([]LayerStat, float64, error) {
	pass := Pass{Train: true, RNG: rand.New(rand.NewPCG(1, 1))}
	if err := w.Forward(ctx, x, pass, nil); err != nil {
		return nil, 0, err
	}
	loss, err := w.Loss(y)
	if err != nil {
		return nil, 0, err
	}
	if err := w.Backward(nil, nil); err != nil {
		return nil, 0, err
	}
	var out []LayerStat
	for _, l := range w.m.net {
		if l.kind != kBlock && l.kind != kReLU {
			continue
		}
		a, _ := w.Act(l.hookOut)
		d, _ := w.Grad(l.hookOut)
		st := LayerStat{Point: l.hookOut, Std: stdDev(a.Data), GradStd: stdDev(d.Data)}
		if l.kind == kBlock {
			br, _ := w.Act(l.hookBranch)
			st.BranchStd = stdDev(br.Data)
		}
		out = append(out, st)
	}
	return out, loss, nil
}

// stdDev returns the population standard deviation of x in float64.
func stdDev(x []float32) float64 {
	var s, sq float64
	for _, v := range x {
		s += float64(v)
	}
	mean := s / float64(len(x))
	for _, v := range x {
		d := float64(v) - mean
		sq += d * d
	}
	return math.Sqrt(sq / float64(len(x)))
}
