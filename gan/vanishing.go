package gan

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/mechinterp/workbench/nn"
	"github.com/mechinterp/workbench/optim"
	"github.com/mechinterp/workbench/tensor"
)

// GradientPoint is one measurement of VanishingGradients: after DSteps
// discriminator updates against a fixed generator, the discriminator's
// accuracy and the norm of the generator's gradient under each loss.
type GradientPoint struct {
	DSteps    int     `json:"d_steps"`
	DAccuracy float64 `json:"d_accuracy"` // real logits > 0 and generated < 0, on the held-out batch
	DFake     float64 `json:"d_fake"`     // mean D(G(z)) on the held-out batch
	// MinimaxNorm is ‖∇_θG mean log(1 − D(G(z)))‖, NonSaturatingNorm
	// ‖∇_θG mean −log D(G(z))‖, both over the held-out latent batch.
	MinimaxNorm       float64 `json:"minimax_norm"`
	NonSaturatingNorm float64 `json:"nonsaturating_norm"`
}

// VanishingOptions configure VanishingGradients.
type VanishingOptions struct {
	// At lists the numbers of discriminator updates after which to
	// measure, ascending (0: before the first); the last is the total.
	At    []int
	Batch int     // samples per batch, training and held out
	LR    float64 // the discriminator's Adam learning rate (β1 0.5, β2 0.999)
	Seed  uint64
}

// DefaultVanishingOptions returns the options of the 2-D demonstration:
// 500 discriminator updates of batch 256 at lr 1e-3, measured on a roughly
// geometric schedule, since the accuracy rises within the first 50.
func DefaultVanishingOptions(seed uint64) VanishingOptions {
	return VanishingOptions{At: []int{0, 5, 10, 20, 50, 100, 200, 500}, Batch: 256, LR: 1e-3, Seed: seed}
}

// VanishingGradients is the experiment of Arjovsky & Bottou (2017, §2.2,
// figure 2) that shows why the minimax generator loss fails: it freezes the
// generator of a copy of m, trains the copy's discriminator towards
// optimality on real samples from src against generated ones, and as the
// discriminator's accuracy rises measures the generator's gradient norm
// under log(1 − D(G(z))), which vanishes as D(G(z)) → 0 (its gradient with
// respect to the logit is −D(G(z))), and under −log D(G(z)), whose logit
// gradient 1 − D(G(z)) tends to 1. Both networks run in training mode; m is
// not modified. The result is deterministic for given options.
func VanishingGradients(ctx context.Context, m *Model, src Source, o VanishingOptions) ([]GradientPoint, error) {
	if len(o.At) == 0 || !slices.IsSorted(o.At) || o.At[0] < 0 || o.Batch < 2 || !(o.LR > 0) {
		return nil, fmt.Errorf("gan: vanishing gradients: need ascending measurement steps ≥ 0, a positive learning rate and a batch ≥ 2, got %+v", o)
	}
	m = m.Clone()
	b := o.Batch
	gD, gG := m.D.NewGrads(), m.G.NewGrads()
	opt, err := optim.NewAdam(optimParams(m.D.P, gD), optim.AdamConfig{Beta1: 0.5, Beta2: 0.999, Eps: 1e-8})
	if err != nil {
		return nil, fmt.Errorf("gan: %w", err)
	}
	gws, dR, dF := m.G.NewWorkspace(b), m.D.NewWorkspace(b), m.D.NewWorkspace(b)
	rng := rand.New(rand.NewPCG(o.Seed, 0x7a_5e))
	held := rand.New(rand.NewPCG(o.Seed, 0x7a_5f))
	zHeld, realHeld := make([]float32, b*m.Cfg.ZDim), make([]float32, b*m.Cfg.SampleSize())
	SampleZ(zHeld, held)
	src.Fill(realHeld, b, held)
	z, real := make([]float32, len(zHeld)), make([]float32, len(realHeld))
	gr, gf, dImg := make([]float32, b), make([]float32, b), make([]float32, len(realHeld))

	measure := func(step int) (GradientPoint, error) {
		p := GradientPoint{DSteps: step}
		if err := gws.Forward(zHeld, true, nil); err != nil {
			return p, err
		}
		if err := dR.Forward(realHeld, true, nil); err != nil {
			return p, err
		}
		if err := dF.Forward(gws.Out().Data, true, nil); err != nil {
			return p, err
		}
		correct := 0
		for i, v := range dR.Out().Data {
			if v > 0 {
				correct++
			}
			if dF.Out().Data[i] < 0 {
				correct++
			}
		}
		p.DAccuracy = float64(correct) / float64(2*b)
		p.DFake = meanSigmoid(dF.Out().Data)
		// Each loss names the field its norm goes to: either norm may be
		// exactly zero (the minimax one is, once D(G(z)) underflows).
		for _, l := range []struct {
			loss func(d, z []float32, s float32) float64
			norm *float64
		}{
			{nn.GANMinimaxGeneratorLoss, &p.MinimaxNorm},
			{nn.GANNonSaturatingGeneratorLoss, &p.NonSaturatingNorm},
		} {
			clear(gf)
			l.loss(gf, dF.Out().Data, 1)
			clear(dImg)
			if err := dF.Backward(gf, nil, dImg, nil); err != nil {
				return p, err
			}
			clear(gG.Data())
			if err := gws.Backward(dImg, gG, nil, nil); err != nil {
				return p, err
			}
			*l.norm = math.Sqrt(tensor.Dot(gG.Data(), gG.Data()))
		}
		return p, nil
	}

	var out []GradientPoint
	at := o.At
	for step := 0; ; step++ {
		for len(at) > 0 && at[0] == step {
			p, err := measure(step)
			if err != nil {
				return nil, err
			}
			out = append(out, p)
			at = at[1:]
		}
		if len(at) == 0 {
			return out, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		SampleZ(z, rng)
		src.Fill(real, b, rng)
		if err := gws.Forward(z, true, nil); err != nil {
			return nil, err
		}
		if err := dR.Forward(real, true, nil); err != nil {
			return nil, err
		}
		if err := dF.Forward(gws.Out().Data, true, nil); err != nil {
			return nil, err
		}
		clear(gr)
		clear(gf)
		nn.GANDiscriminatorLoss(gr, gf, dR.Out().Data, dF.Out().Data, 1)
		clear(gD.Data())
		if err := dR.Backward(gr, gD, nil, nil); err != nil {
			return nil, err
		}
		if err := dF.Backward(gf, gD, nil, nil); err != nil {
			return nil, err
		}
		opt.Step(o.LR)
	}
}
