package gan

import "github.com/mechinterp/workbench/nn"

// shard is one fixed part of a training batch, images [b0, b0+n), with its
// own workspaces, gradient buffers and results.
type shard struct {
	b0, n             int
	gws, dReal, dFake *Workspace
	gG, gD            *Params
	dR, dF, dImg      []float32 // gradients with respect to the logits and the generated samples

	dLoss, meanReal, meanFake, gLoss float64 // this shard's share of the batch means
	err                              error
}

func newShard(m *Model, b0, n int) *shard {
	return &shard{
		b0: b0, n: n,
		gws: m.G.NewWorkspace(n), dReal: m.D.NewWorkspace(n), dFake: m.D.NewWorkspace(n),
		gG: m.G.NewGrads(), gD: m.D.NewGrads(),
		dR: make([]float32, n), dF: make([]float32, n), dImg: make([]float32, n*m.Cfg.SampleSize()),
	}
}

// discriminatorShard generates the shard's samples and writes its part of
// the discriminator's gradient (its loss weighted by its share of the batch)
// into sh.gD.
func (t *trainer) discriminatorShard(sh *shard) error {
	zd, per := t.m.Cfg.ZDim, t.m.Cfg.SampleSize()
	if err := sh.gws.Forward(t.z[sh.b0*zd:(sh.b0+sh.n)*zd], true, nil); err != nil {
		return err
	}
	if err := sh.dReal.Forward(t.real[sh.b0*per:(sh.b0+sh.n)*per], true, nil); err != nil {
		return err
	}
	if err := sh.dFake.Forward(sh.gws.Out().Data, true, nil); err != nil {
		return err
	}
	share := float64(sh.n) / float64(t.o.Batch)
	lr, lf := sh.dReal.Out().Data, sh.dFake.Out().Data
	clear(sh.dR)
	clear(sh.dF)
	if t.o.Loss == LossWGAN {
		sh.dLoss = share * nn.WassersteinCriticLoss(sh.dR, sh.dF, lr, lf, float32(share))
		sh.meanReal, sh.meanFake = share*mean(lr), share*mean(lf)
	} else {
		sh.dLoss = share * nn.GANDiscriminatorLoss(sh.dR, sh.dF, lr, lf, float32(share))
		sh.meanReal, sh.meanFake = share*meanSigmoid(lr), share*meanSigmoid(lf)
	}
	clear(sh.gD.Data())
	if err := sh.dReal.Backward(sh.dR, sh.gD, nil, nil); err != nil {
		return err
	}
	return sh.dFake.Backward(sh.dF, sh.gD, nil, nil)
}

// generatorShard writes the shard's part of the generator's gradient
// through the updated discriminator into sh.gG.
func (t *trainer) generatorShard(sh *shard) error {
	if err := sh.dFake.Forward(sh.gws.Out().Data, true, nil); err != nil {
		return err
	}
	share := float64(sh.n) / float64(t.o.Batch)
	logits := sh.dFake.Out().Data
	clear(sh.dF)
	switch t.o.Loss {
	case LossMinimax:
		sh.gLoss = share * nn.GANMinimaxGeneratorLoss(sh.dF, logits, float32(share))
	case LossNonSaturating:
		sh.gLoss = share * nn.GANNonSaturatingGeneratorLoss(sh.dF, logits, float32(share))
	case LossWGAN:
		sh.gLoss = share * nn.WassersteinGeneratorLoss(sh.dF, logits, float32(share))
	}
	clear(sh.dImg)
	if err := sh.dFake.Backward(sh.dF, nil, sh.dImg, nil); err != nil {
		return err
	}
	clear(sh.gG.Data())
	return sh.gws.Backward(sh.dImg, sh.gG, nil, nil)
}

func mean(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v)
	}
	return s / float64(len(x))
}

// bnPool pools the shards' BatchNorm statistics into the whole batch's and
// folds them into a network's running statistics.
type bnPool struct{ mean, variance []float32 }

func newBNPool(m *Model) bnPool {
	c := 0
	for _, n := range []*Net{m.G, m.D} {
		for _, k := range n.blocks {
			c = max(c, k.out.C)
		}
	}
	return bnPool{mean: make([]float32, c), variance: make([]float32, c)}
}

// update folds the statistics of the last training pass of the workspaces
// ws(sh) of net n, pooled over the shards (mean = Σ nᵢμᵢ/N, variance =
// Σ nᵢ(σᵢ² + (μᵢ − μ)²)/N, exact for one shard), into n's running
// statistics.
func (p bnPool) update(n *Net, shards []*shard, ws func(*shard) *Workspace) {
	total := 0
	for _, sh := range shards {
		total += sh.n
	}
	for i, k := range n.blocks {
		if !k.bn {
			continue
		}
		C := k.out.C
		for c := range C {
			var mu float64
			for _, sh := range shards {
				mu += float64(sh.n) * float64(ws(sh).act[i].mean[c])
			}
			mu /= float64(total)
			var v float64
			for _, sh := range shards {
				a := &ws(sh).act[i]
				dm := float64(a.mean[c]) - mu
				v += float64(sh.n) * (float64(a.variance[c]) + dm*dm)
			}
			p.mean[c], p.variance[c] = float32(mu), float32(v/float64(total))
		}
		nn.BatchNormUpdateRunning(n.Buffers.view(k.rm), n.Buffers.view(k.rv), p.mean[:C], p.variance[:C],
			total*k.out.H*k.out.W, n.mom)
	}
}
