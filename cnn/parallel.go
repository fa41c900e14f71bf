package cnn

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/mechinterp/workbench/nn"
	"github.com/mechinterp/workbench/tensor"
	"github.com/mechinterp/workbench/workers"
)

// bnSites lists the BatchNorm layers among ls, in forward order, with their
// buffers in as.
func bnSites(ls []*layer, as []acts, dst []bnSite) []bnSite {
	for i, l := range ls {
		switch l.kind {
		case kBN:
			dst = append(dst, bnSite{l, &as[i]})
		case kBlock:
			dst = bnSites(l.branch, as[i].branch, dst)
			dst = bnSites(l.shortcut, as[i].shcut, dst)
		}
	}
	return dst
}

type bnSite struct {
	l *layer
	a *acts
}

// UpdateRunningStats folds the batch statistics of the workspace's last
// training pass into the model's BatchNorm running statistics, as PyTorch's
// forward in training mode does (momentum Config.BNMomentum, unbiased
// variance). It writes the model: no other goroutine may use it meanwhile.
// It returns an error if the last pass was not a training pass.
func (w *Workspace) UpdateRunningStats() error {
	if !w.train {
		return fmt.Errorf("cnn: the last forward pass was in evaluation mode: no batch statistics")
	}
	for _, s := range bnSites(w.m.net, w.act, nil) {
		d := w.bnDims(s.l)
		nn.BatchNormUpdateRunning(w.m.Buffers.view(s.l.rm), w.m.Buffers.view(s.l.rv), s.a.mean, s.a.variance, d.Count(), float32(w.m.Cfg.BNMomentum))
	}
	return nil
}

// Parallel computes the loss and gradient of a training batch data-parallel:
// the batch is cut into a fixed number of shards, each with its own
// workspace, gradient buffer and dropout RNG, processed by a pool of
// persistent worker goroutines, and the shard gradients are summed in shard
// order. Because the shards, their RNG seeds and the reduction order do not
// depend on the number of workers, the result is bit-identical whatever the
// worker count.
//
// BatchNorm normalises each shard with that shard's statistics, as PyTorch's
// DistributedDataParallel does without SyncBatchNorm ("ghost" batch norm);
// the running statistics are updated once per step from the statistics of
// the whole batch, pooled exactly from the shards'.
//
// A Parallel is used by one goroutine at a time. Close stops its workers.
type Parallel struct {
	m      *Model
	batch  int
	shards []shard
	pool   *workers.Pool
	task   func(worker, i int) // p.runShard as a func value, made once
	images []float32
	labels []int32
	seed   uint64
	sites  [][]bnSite // per shard
	pooled []float32  // scratch: pooled mean and variance, 2·max C
}

type shard struct {
	b0, n int // first image and number of images
	ws    *Workspace
	g     *Params
	pcg   *rand.PCG
	rng   *rand.Rand
	loss  float64
	err   error
}

// NewParallel returns a data-parallel trainer for batches of batch images cut
// into nShards shards (at most batch), run by nWorkers goroutines (the
// caller of Step among them). It returns an error on impossible sizes.
func (m *Model) NewParallel(batch, nShards, nWorkers int) (*Parallel, error) {
	if batch < 1 || nShards < 1 || nWorkers < 1 {
		return nil, fmt.Errorf("cnn: parallel needs a positive batch, shard and worker count, got %d, %d, %d", batch, nShards, nWorkers)
	}
	nShards = min(nShards, batch)
	p := &Parallel{m: m, batch: batch}
	maxC := 0
	for s := range nShards {
		b0 := s * batch / nShards
		n := (s+1)*batch/nShards - b0
		ws := m.NewWorkspace(n)
		ws.gradActs()
		pcg := rand.NewPCG(0, 0)
		p.shards = append(p.shards, shard{b0: b0, n: n, ws: ws, g: m.NewGrads(), pcg: pcg, rng: rand.New(pcg)})
		sites := bnSites(m.net, ws.act, nil)
		for _, st := range sites {
			maxC = max(maxC, st.l.in.C)
		}
		p.sites = append(p.sites, sites)
	}
	p.pooled = make([]float32, 2*maxC)
	p.task = p.runShard
	p.pool = workers.New(nWorkers)
	return p, nil
}

// Close stops the workers and waits for them to exit.
func (p *Parallel) Close() { p.pool.Close() }

// ShardSeed is the dropout seed of shard i in a step seeded by seed: the
// shard's RNG is rand.New(rand.NewPCG(seed, ShardSeed(i))).
func ShardSeed(i int) uint64 { return 0xd0_9f00 + uint64(i) }

// runShard computes shard i's loss and gradient (on any worker).
func (p *Parallel) runShard(_, i int) {
	s := &p.shards[i]
	per := p.m.Cfg.InC * p.m.Cfg.InH * p.m.Cfg.InW
	s.pcg.Seed(p.seed, ShardSeed(i))
	s.err = s.ws.Forward(context.Background(), p.images[s.b0*per:(s.b0+s.n)*per], Pass{Train: true, RNG: s.rng}, nil)
	if s.err != nil {
		return
	}
	if s.loss, s.err = s.ws.Loss(p.labels[s.b0 : s.b0+s.n]); s.err != nil {
		return
	}
	clear(s.g.Data())
	s.err = s.ws.BackwardScaled(s.g, nil, float32(s.n)/float32(p.batch))
}

// Step computes the mean cross-entropy of a training batch, images [batch,
// C, H, W] with labels [batch], writes its gradient into g (overwriting it),
// and updates the model's BatchNorm running statistics. seed fixes the
// dropout masks (see ShardSeed). It allocates nothing.
func (p *Parallel) Step(ctx context.Context, images []float32, labels []int32, seed uint64, g *Params) (float64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	c := p.m.Cfg
	if len(labels) != p.batch || len(images) != p.batch*c.InC*c.InH*c.InW {
		return 0, fmt.Errorf("cnn: parallel step wants %d images and labels, got %d values and %d labels", p.batch, len(images), len(labels))
	}
	p.images, p.labels, p.seed = images, labels, seed
	p.pool.Run(len(p.shards), p.task)
	var loss float64
	for i := range p.shards {
		s := &p.shards[i]
		if s.err != nil {
			return 0, s.err
		}
		loss += s.loss * float64(s.n) / float64(p.batch)
	}
	// Sum shard gradients in shard order: the result is independent of
	// which worker ran which shard.
	copy(g.Data(), p.shards[0].g.Data())
	for i := 1; i < len(p.shards); i++ {
		tensor.Axpy(1, p.shards[i].g.Data(), g.Data())
	}
	p.updateRunningStats()
	return loss, nil
}

// updateRunningStats pools every BatchNorm layer's shard statistics into the
// whole batch's (mean = Σ nᵢμᵢ/N, variance = Σ nᵢ(σᵢ² + (μᵢ − μ)²)/N) and
// folds them into the model's running statistics.
func (p *Parallel) updateRunningStats() {
	for j, site := range p.sites[0] {
		l := site.l
		C, spatial := l.in.C, l.in.H*l.in.W
		mean, variance := p.pooled[:C], p.pooled[C:2*C]
		for c := range C {
			var mu float64
			for i, s := range p.shards {
				mu += float64(s.n) * float64(p.sites[i][j].a.mean[c])
			}
			mu /= float64(p.batch)
			var v float64
			for i, s := range p.shards {
				dm := float64(p.sites[i][j].a.mean[c]) - mu
				v += float64(s.n) * (float64(p.sites[i][j].a.variance[c]) + dm*dm)
			}
			mean[c], variance[c] = float32(mu), float32(v/float64(p.batch))
		}
		nn.BatchNormUpdateRunning(p.m.Buffers.view(l.rm), p.m.Buffers.view(l.rv), mean, variance, p.batch*spatial, float32(p.m.Cfg.BNMomentum))
	}
}

// Workspace returns shard i's workspace (its activations from the last
// Step), for telemetry.
func (p *Parallel) Workspace(i int) *Workspace { return p.shards[i].ws }

// Shards returns the number of shards.
func (p *Parallel) Shards() int { return len(p.shards) }
