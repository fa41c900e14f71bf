package gan

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/mechinterp/workbench/data"
	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
)

// VEEGANSamples is the number of generated samples the VEEGAN metrics are
// computed on (Srivastava et al. 2017, §5.1).
const VEEGANSamples = 2500

// MixtureMetrics are the VEEGAN metrics of generated 2-D samples against a
// Gaussian mixture. A sample is high quality when it lies within 3σ of the
// nearest mode's centre (σ the mixture's per-coordinate standard
// deviation; the distance is Euclidean). A mode is captured when at least
// one high-quality sample is assigned to it — the mode whose centre is
// nearest — which is VEEGAN's count; ModesWith gives stricter counts.
type MixtureMetrics struct {
	Samples             int     `json:"samples"`
	Modes               int     `json:"modes"`
	ModesCaptured       int     `json:"modes_captured"`
	HighQualityFraction float64 `json:"high_quality_fraction"`
	PerMode             []int   `json:"high_quality_per_mode"` // high-quality samples assigned to each mode
}

// ModesWith returns the number of modes with at least k high-quality
// samples.
func (mm MixtureMetrics) ModesWith(k int) int {
	n := 0
	for _, c := range mm.PerMode {
		if c >= k {
			n++
		}
	}
	return n
}

// EvaluateMixture computes the VEEGAN metrics of n samples [n, 2] against
// mix. It panics with a tensor.ShapeError if samples is shorter than 2n.
func EvaluateMixture(mix data.Mixture, samples []float32, n int) MixtureMetrics {
	if len(samples) < 2*n {
		panic(tensor.ShapeError{Op: "gan.EvaluateMixture", Msg: fmt.Sprintf("%d values for %d samples", len(samples), n)})
	}
	mm := MixtureMetrics{Samples: n, Modes: len(mix.Centres), PerMode: make([]int, len(mix.Centres))}
	hq := 0
	for i := range n {
		mode, dist := mix.Nearest(float64(samples[2*i]), float64(samples[2*i+1]))
		if dist <= 3*mix.Sigma {
			hq++
			mm.PerMode[mode]++
		}
	}
	mm.ModesCaptured = mm.ModesWith(1)
	if n > 0 {
		mm.HighQualityFraction = float64(hq) / float64(n)
	}
	return mm
}

// sampleChunk is the batch Samples generates at once, which bounds its
// activation memory.
const sampleChunk = 256

// Samples generates n samples from n latent vectors drawn from rng (all
// drawn first, so the result does not depend on the chunking), with the
// generator in evaluation mode, and returns them: [n, data_dim] or
// [n, C, H, W].
func (m *Model) Samples(ctx context.Context, n int, rng *rand.Rand) (*tensor.Tensor, error) {
	if n < 1 {
		return nil, fmt.Errorf("gan: samples: n = %d must be positive", n)
	}
	z := make([]float32, n*m.Cfg.ZDim)
	SampleZ(z, rng)
	return m.generateChunked(ctx, z, n, nil)
}

// generateChunked runs the generator in evaluation mode on n latent vectors
// z [n, z_dim], sampleChunk at a time, with hooks hs.
func (m *Model) generateChunked(ctx context.Context, z []float32, n int, hs *hooks.Set) (*tensor.Tensor, error) {
	out := tensor.New(append([]int{n}, m.Cfg.SampleShape()...)...)
	per, zd := m.Cfg.SampleSize(), m.Cfg.ZDim
	var full, tail *Workspace
	for lo := 0; lo < n; lo += sampleChunk {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hi := min(lo+sampleChunk, n)
		ws := full
		switch {
		case hi-lo < sampleChunk:
			if tail == nil {
				tail = m.G.NewWorkspace(hi - lo)
			}
			ws = tail
		case full == nil:
			full = m.G.NewWorkspace(sampleChunk)
			ws = full
		}
		if err := ws.Forward(z[lo*zd:hi*zd], false, hs); err != nil {
			return nil, err
		}
		copy(out.Data[lo*per:hi*per], ws.Out().Data)
	}
	return out, nil
}

// EvaluateMixture generates VEEGANSamples samples seeded by seed and
// returns their VEEGAN metrics against mix. The model must be an ArchMLP
// with 2-D data.
func (m *Model) EvaluateMixture(ctx context.Context, mix data.Mixture, seed uint64) (MixtureMetrics, error) {
	if m.Cfg.Arch != ArchMLP || m.Cfg.DataDim != 2 {
		return MixtureMetrics{}, fmt.Errorf("gan: mixture metrics need a 2-D MLP GAN, not %s with %d-D samples", m.Cfg.Arch, m.Cfg.SampleSize())
	}
	x, err := m.Samples(ctx, VEEGANSamples, rand.New(rand.NewPCG(seed, 0x7e_e6a4)))
	if err != nil {
		return MixtureMetrics{}, err
	}
	return EvaluateMixture(mix, x.Data, VEEGANSamples), nil
}

// DefaultMixtureOptions returns the training options of the 2-D mixture
// experiments for a loss: 3,000 steps of batch 256 with Adam (lr 1e-3,
// β1 0.5) decayed along a half cosine, which on the 8-mode ring captures
// every mode with the minimax and the non-saturating loss; for WGAN,
// DefaultTrainOptions' n_critic 5, clip 0.01 and β1 0 with lr 1e-4.
func DefaultMixtureOptions(loss string) TrainOptions {
	o := DefaultTrainOptions(loss)
	o.Steps, o.Batch, o.LR, o.Decay = 3000, 256, 1e-3, true
	o.LogEvery, o.EvalEvery = 100, 500
	if loss == LossWGAN {
		o.LR = 1e-4
	}
	return o
}
