package gan

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"strconv"

	"github.com/mechinterp/workbench/checkpoint"
	"github.com/mechinterp/workbench/data"
	"github.com/mechinterp/workbench/nn"
	"github.com/mechinterp/workbench/optim"
	"github.com/mechinterp/workbench/tensor"
	"github.com/mechinterp/workbench/train"
	"github.com/mechinterp/workbench/workers"
)

// The GAN objectives (TrainOptions.Loss).
const (
	// LossMinimax is the original game (Goodfellow et al. 2014): D
	// minimises −log D(x) − log(1 − D(G(z))), G minimises log(1 − D(G(z))).
	LossMinimax = "minimax"
	// LossNonSaturating keeps D's loss and gives G −log D(G(z)), whose
	// gradient does not vanish when D rejects the samples confidently.
	LossNonSaturating = "nonsaturating"
	// LossWGAN is the Wasserstein GAN with weight clipping (Arjovsky,
	// Chintala & Bottou 2017): the critic f minimises mean f(G(z)) − mean
	// f(x) with every parameter clipped to [−Clip, Clip] after each
	// update, NCritic critic updates per generator update, and G minimises
	// −mean f(G(z)).
	LossWGAN = "wgan"
)

// Source supplies real samples for training.
type Source interface {
	// Fill writes n real samples, [n, ...] in the discriminator's input
	// layout, into dst, drawing only from rng.
	Fill(dst []float32, n int, rng *rand.Rand)
}

// ImageSource draws images uniformly with replacement from Set (pixels in
// [0, 1]) and scales them to [−1, 1], the range of the generator's tanh.
type ImageSource struct{ Set *data.ImageSet }

// Fill implements Source: dst is [n, 1, H, W].
func (s ImageSource) Fill(dst []float32, n int, rng *rand.Rand) {
	per := s.Set.H * s.Set.W
	for i := range n {
		src := s.Set.Image(rng.IntN(s.Set.N))
		d := dst[i*per : (i+1)*per]
		for j, v := range src {
			d[j] = 2*v - 1
		}
	}
}

// MixtureSource samples a 2-D Gaussian mixture.
type MixtureSource struct{ Mixture data.Mixture }

// Fill implements Source: dst is [n, 2].
func (s MixtureSource) Fill(dst []float32, n int, rng *rand.Rand) { s.Mixture.Sample(dst, n, rng) }

// TrainOptions configure Train. Start from DefaultTrainOptions: zero values
// are taken literally (β1 = 0 is a valid choice).
type TrainOptions struct {
	Loss    string  // LossNonSaturating, LossMinimax or LossWGAN
	Steps   int     // generator updates
	Batch   int     // samples per batch, for both players
	LR      float64 // Adam learning rate, both players
	Beta1   float64 // Adam β1
	Beta2   float64 // Adam β2
	NCritic int     // discriminator updates per generator update
	// Shards cuts every batch into this many fixed parts, each normalised
	// by BatchNorm on its own (as data-parallel PyTorch does without
	// SyncBatchNorm) and run by one of Workers goroutines; gradients are
	// summed in shard order, so results depend on Shards but not Workers.
	Shards  int
	Workers int
	// Decay lowers both learning rates from LR to 0 along a half cosine
	// over Steps (optim.Cosine without warmup); otherwise they are constant.
	Decay bool
	Clip  float64 // WGAN: clip every critic parameter to [−Clip, Clip]
	Seed  uint64  // seeds the latent vectors and the data; step s draws from (Seed, s)

	Dir             string // run directory (required): metrics.jsonl, checkpoints/
	Resume          bool   // continue from the newest checkpoint in Dir
	LogEvery        int    // metrics record every N steps
	EvalEvery       int    // call Eval every N steps, rounded up to a multiple of LogEvery (and at the end)
	CheckpointEvery int
	// Eval, if set, adds its numbers (FID, mixture metrics, ...) to the
	// step's record.
	Eval      func(ctx context.Context, step int) (map[string]any, error)
	Progress  io.Writer            // a terminal, or nil
	Listeners []func(train.Record) // telemetry subscribers
	Metadata  map[string]string    // added to every checkpoint
}

// DefaultTrainOptions returns the options of the papers for a loss: for the
// minimax and non-saturating losses DCGAN's Adam (lr 2e-4, β1 0.5, β2
// 0.999), one D update per G update, batch 64; for WGAN the paper's
// n_critic 5, clip 0.01 and lr 5e-5 with Adam at β1 = 0 standing in for its
// RMSprop (β1 = 0 removes momentum, which the paper found destabilising;
// what is left is RMSprop with a bias-corrected second moment), β2 0.999.
func DefaultTrainOptions(loss string) TrainOptions {
	o := TrainOptions{Loss: loss, Steps: 1000, Batch: 64, LR: 2e-4, Beta1: 0.5, Beta2: 0.999, NCritic: 1,
		Shards: 2, Workers: runtime.GOMAXPROCS(0), LogEvery: 50, EvalEvery: 500}
	if loss == LossWGAN {
		o.LR, o.Beta1, o.NCritic, o.Clip = 5e-5, 0, 5, 0.01
	}
	return o
}

// Validate reports the first problem with o as an error.
func (o TrainOptions) Validate() error {
	bad := func(format string, args ...any) error { return fmt.Errorf("gan: train: "+format, args...) }
	switch {
	case o.Loss != LossMinimax && o.Loss != LossNonSaturating && o.Loss != LossWGAN:
		return bad("unknown loss %q (want %q, %q or %q)", o.Loss, LossNonSaturating, LossMinimax, LossWGAN)
	case o.Steps < 1:
		return bad("steps %d must be positive", o.Steps)
	case o.Shards < 1 || o.Shards > 64 || o.Workers < 1:
		return bad("shards %d must be in [1, 64] and workers %d positive", o.Shards, o.Workers)
	case o.Batch < 2*o.Shards || o.Batch > 1<<16:
		return bad("batch %d must be in [2·shards, 65536] (BatchNorm needs two samples per shard)", o.Batch)
	case !(o.LR > 0) || math.IsInf(o.LR, 0):
		return bad("learning rate %v must be positive and finite", o.LR)
	case o.NCritic < 1 || o.NCritic > 100:
		return bad("n_critic %d must be in [1, 100]", o.NCritic)
	case o.Loss == LossWGAN && !(o.Clip > 0):
		return bad("WGAN needs a positive clip, got %v", o.Clip)
	case o.Dir == "":
		return bad("a run directory is required")
	}
	return nil
}

// Train trains m on src with o until o.Steps generator updates are done or
// ctx is cancelled, through train.Run: metrics.jsonl, atomic checkpoints
// (the model under its state-dict names, both players' Adam state under
// "optim/", the config under "gan_config"), exact resume, and a final
// checkpoint on cancellation (the summary is then marked Interrupted and
// ctx's error returned).
//
// One step is NCritic discriminator updates, each on a fresh real batch
// and a fresh generated batch (G and D in training mode: batch statistics
// per shard, real and generated batches normalised separately, as in the
// PyTorch DCGAN example; the running statistics are updated from the whole
// batch's, pooled exactly from the shards'), then one generator update
// through the updated discriminator on the last generated batch. Records
// carry the generator's loss as "loss"
// and "d_loss", "d_real" and "d_fake" (mean D(x), D(G(z)); the critic's mean
// values for WGAN), "g_grad_norm" (the generator's gradient norm) and
// Eval's numbers.
func Train(ctx context.Context, m *Model, src Source, o TrainOptions) (train.Summary, error) {
	if err := o.Validate(); err != nil {
		return train.Summary{}, err
	}
	t, err := newTrainer(m, src, o)
	if err != nil {
		return train.Summary{}, err
	}
	t.start(o.Workers)
	defer t.close()
	meta := map[string]string{ConfigMetadataKey: string(m.Cfg.JSON()), "loss": o.Loss, "seed": strconv.FormatUint(o.Seed, 10)}
	for k, v := range o.Metadata {
		if _, ok := meta[k]; !ok {
			meta[k] = v
		}
	}
	logEvery := max(o.LogEvery, 1)
	evalEvery := (max(o.EvalEvery, 1) + logEvery - 1) / logEvery * logEvery // a multiple of logEvery
	ckEvery := o.CheckpointEvery
	if ckEvery <= 0 {
		ckEvery = evalEvery
	}
	// The loop's evaluation hook runs whenever a record is due, to add the
	// telemetry, and calls o.Eval on its own schedule.
	return train.Run(ctx, t, t.optG, train.Options{
		Steps: o.Steps, LogEvery: logEvery, EvalEvery: logEvery, CheckpointEvery: ckEvery,
		Schedule: t.schedule, Dir: o.Dir, Resume: o.Resume, Metadata: meta,
		Progress: o.Progress, Listeners: o.Listeners, KeepCheckpoints: 3,
		Eval: func(ctx context.Context, step int) (map[string]any, error) {
			rec := t.last.record()
			if o.Eval != nil && (step%evalEvery == 0 || step == o.Steps) {
				r, err := o.Eval(ctx, step)
				if err != nil {
					return nil, err
				}
				for k, v := range r {
					rec[k] = v
				}
			}
			return rec, nil
		},
	})
}

// trainer adapts the two-player game to train.Trainable: the loop sees the
// generator's parameters and optimizer; each Step runs the discriminator's
// updates itself before computing the generator's gradient. The batch is
// cut into fixed shards (see pool) whose gradients are summed in shard order.
type trainer struct {
	m          *Model
	src        Source
	o          TrainOptions
	gG, gD     *Params
	optG, optD *optim.Adam
	paramsG    []optim.Param
	paramsD    []optim.Param
	shards     []*shard
	pool       *workers.Pool
	z, real    []float32 // the whole batch's latent vectors and real samples
	pcg        *rand.PCG
	rng        *rand.Rand
	schedule   optim.Schedule // both players' learning rate per step
	lr         float64        // this step's
	last       stepStats
	stats      bnPool // scratch for pooling BatchNorm statistics
	// The per-shard phases, built once so that running them allocates
	// nothing.
	dPhase, gPhase func(worker, i int)
}

// stepStats is the telemetry of the last step.
type stepStats struct {
	dLoss, dReal, dFake, gNorm float64
}

func (s stepStats) record() map[string]any {
	return map[string]any{"d_loss": s.dLoss, "d_real": s.dReal, "d_fake": s.dFake, "g_grad_norm": s.gNorm}
}

func optimParams(p, g *Params) []optim.Param {
	ps, gs := p.List(), g.List()
	out := make([]optim.Param, len(ps))
	for i := range ps {
		out[i] = optim.Param{Name: ps[i].Name, Data: ps[i].Data, Grad: gs[i].Data}
	}
	return out
}

func newTrainer(m *Model, src Source, o TrainOptions) (*trainer, error) {
	t := &trainer{m: m, src: src, o: o, gG: m.G.NewGrads(), gD: m.D.NewGrads()}
	t.paramsG, t.paramsD = optimParams(m.G.P, t.gG), optimParams(m.D.P, t.gD)
	cfg := optim.AdamConfig{Beta1: o.Beta1, Beta2: o.Beta2, Eps: 1e-8}
	var err error
	if t.optG, err = optim.NewAdam(t.paramsG, cfg); err != nil {
		return nil, fmt.Errorf("gan: %w", err)
	}
	if t.optD, err = optim.NewAdam(t.paramsD, cfg); err != nil {
		return nil, fmt.Errorf("gan: %w", err)
	}
	b := o.Batch
	t.z, t.real = make([]float32, b*m.Cfg.ZDim), make([]float32, b*m.Cfg.SampleSize())
	nShards := max(1, o.Shards)
	for i := range nShards {
		b0 := i * b / nShards
		t.shards = append(t.shards, newShard(m, b0, (i+1)*b/nShards-b0))
	}
	t.stats = newBNPool(m)
	t.dPhase = func(_, i int) { t.shards[i].err = t.discriminatorShard(t.shards[i]) }
	t.gPhase = func(_, i int) { t.shards[i].err = t.generatorShard(t.shards[i]) }
	t.pcg = rand.NewPCG(0, 0)
	t.rng = rand.New(t.pcg)
	t.schedule = optim.Constant(o.LR)
	if o.Decay {
		t.schedule = optim.Cosine(o.LR, 0, o.Steps, 0)
	}
	return t, nil
}

// start starts the worker pool (workers > 1); close stops it.
func (t *trainer) start(nWorkers int) {
	if nWorkers > 1 && len(t.shards) > 1 {
		t.pool = workers.New(min(nWorkers, len(t.shards)))
	}
}

func (t *trainer) close() {
	if t.pool != nil {
		t.pool.Close()
	}
}

func (t *trainer) Params() []optim.Param { return t.paramsG }
func (t *trainer) TokensPerStep() int    { return t.o.Batch }

// Tensors returns the model and the discriminator's Adam state; the loop
// adds the generator's.
func (t *trainer) Tensors() []checkpoint.Tensor {
	ts := t.m.StateDict()
	for _, st := range t.optD.State() {
		ts = append(ts, checkpoint.Tensor{Name: "optim/" + st.Name, Shape: []int{len(st.Data)}, Data: st.Data})
	}
	return ts
}

// Restore loads the model and the discriminator's Adam state, whose step
// count is NCritic per generator step.
func (t *trainer) Restore(f *checkpoint.File) error {
	if err := t.m.LoadStateDict(f); err != nil {
		return err
	}
	step, err := strconv.Atoi(f.Metadata["step"])
	if err != nil {
		return fmt.Errorf("gan: checkpoint has no step: %w", err)
	}
	var state []optim.StateTensor
	for _, st := range t.optD.State() {
		d, _, err := f.Float32("optim/" + st.Name)
		if err != nil {
			return fmt.Errorf("gan: resume: %w", err)
		}
		state = append(state, optim.StateTensor{Name: st.Name, Data: d})
	}
	return t.optD.LoadState(step*t.o.NCritic, state)
}

// Step runs step s: NCritic discriminator updates, then the generator's
// gradient. Its randomness depends only on (Seed, s).
func (t *trainer) Step(ctx context.Context, s int) (float64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	t.pcg.Seed(t.o.Seed, uint64(s)+1)
	t.lr = t.schedule(s)
	for range t.o.NCritic {
		if err := t.discriminatorStep(); err != nil {
			return 0, err
		}
	}
	return t.generatorGrad()
}

// run runs phase(i) for every shard i, on the pool if there is one, and
// returns the first shard error.
func (t *trainer) run(phase func(worker, i int)) error {
	if t.pool != nil {
		t.pool.Run(len(t.shards), phase)
	} else {
		for i := range t.shards {
			phase(0, i)
		}
	}
	for _, sh := range t.shards {
		if sh.err != nil {
			return sh.err
		}
	}
	return nil
}

// discriminatorStep draws a batch of latent vectors and real samples, takes
// one discriminator update and records the loss.
func (t *trainer) discriminatorStep() error {
	SampleZ(t.z, t.rng)
	t.src.Fill(t.real, t.o.Batch, t.rng)
	if err := t.run(t.dPhase); err != nil {
		return err
	}
	t.last.dLoss, t.last.dReal, t.last.dFake = 0, 0, 0
	for _, sh := range t.shards {
		t.last.dLoss += sh.dLoss
		t.last.dReal += sh.meanReal
		t.last.dFake += sh.meanFake
	}
	t.reduce(t.gD, func(sh *shard) *Params { return sh.gD })
	t.stats.update(t.m.G, t.shards, func(sh *shard) *Workspace { return sh.gws })
	t.stats.update(t.m.D, t.shards, func(sh *shard) *Workspace { return sh.dReal })
	t.stats.update(t.m.D, t.shards, func(sh *shard) *Workspace { return sh.dFake })
	t.optD.Step(t.lr)
	if t.o.Loss == LossWGAN {
		nn.ClipWeights(t.m.D.P.Data(), float32(t.o.Clip))
	}
	return nil
}

// generatorGrad writes the generator's gradient on the last generated batch
// through the updated discriminator and returns its loss.
func (t *trainer) generatorGrad() (float64, error) {
	if err := t.run(t.gPhase); err != nil {
		return 0, err
	}
	var loss float64
	for _, sh := range t.shards {
		loss += sh.gLoss
	}
	t.reduce(t.gG, func(sh *shard) *Params { return sh.gG })
	t.stats.update(t.m.D, t.shards, func(sh *shard) *Workspace { return sh.dFake })
	t.last.gNorm = math.Sqrt(tensor.Dot(t.gG.Data(), t.gG.Data()))
	return loss, nil
}

// reduce writes the sum of the shards' gradients, in shard order, into dst.
func (t *trainer) reduce(dst *Params, of func(*shard) *Params) {
	copy(dst.Data(), of(t.shards[0]).Data())
	for _, sh := range t.shards[1:] {
		tensor.Axpy(1, of(sh).Data(), dst.Data())
	}
}

// meanSigmoid returns the mean of σ(z) over z.
func meanSigmoid(z []float32) float64 {
	var s float64
	for _, v := range z {
		s += sigmoid(float64(v))
	}
	return s / float64(len(z))
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}
