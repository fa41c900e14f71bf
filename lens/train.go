package lens

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/mechinterp/workbench/nn"
	"github.com/mechinterp/workbench/optim"
	"github.com/mechinterp/workbench/tensor"
	"github.com/mechinterp/workbench/transformer"
)

// Data is the token stream a tuned lens trains on: the model's own training
// distribution, as Belrose et al. train on the pretraining corpus.
type Data struct {
	Batch, Pos int // sequences per step and tokens per sequence
	// Fill writes the next batch, [Batch·Pos] token ids, into dst. rng is
	// the trainer's generator, seeded from TrainConfig.Seed. Ids outside
	// the model's vocabulary make the step fail with an error.
	Fill func(dst []int32, rng *rand.Rand)
}

// FromTokens returns Data cycling through fixed token sequences, batch of
// them per step (at least 1; len(tokens) for all of them every step), in
// order and wrapping around. The sequences must be non-empty and of equal
// length.
func FromTokens(tokens [][]int, batch int) (Data, error) {
	if len(tokens) == 0 || len(tokens[0]) == 0 {
		return Data{}, fmt.Errorf("lens: no training tokens")
	}
	pos := len(tokens[0])
	for i, s := range tokens {
		if len(s) != pos {
			return Data{}, fmt.Errorf("lens: training sequence %d has %d tokens, sequence 0 has %d (sequences must have equal length)", i, len(s), pos)
		}
	}
	if batch < 1 {
		return Data{}, fmt.Errorf("lens: training batch %d, want at least 1 sequence", batch)
	}
	next := 0
	return Data{Batch: batch, Pos: pos, Fill: func(dst []int32, _ *rand.Rand) {
		for b := range batch {
			for p, t := range tokens[next] {
				dst[b*pos+p] = int32(t)
			}
			next = (next + 1) % len(tokens)
		}
	}}, nil
}

// Default hyperparameters of TrainConfig, those of Belrose et al.: SGD with
// Nesterov momentum 0.9, learning rate 1 decayed linearly to 0, 250 steps.
const (
	DefaultSteps    = 250
	DefaultLR       = 1.0
	DefaultMomentum = 0.9
)

// TrainConfig holds a tuned lens's training options.
type TrainConfig struct {
	Steps    int     // number of SGD steps (DefaultSteps if 0)
	LR       float64 // peak learning rate, decayed linearly to 0 over Steps (DefaultLR if 0)
	Momentum float64 // Nesterov momentum (DefaultMomentum if 0)
	Seed     uint64  // seeds the generator passed to Data.Fill
	// Progress, if not nil, is called after every step with the step number
	// (1-based) and the mean KL(final ‖ lens) over the trained points
	// before the update.
	Progress func(step int, kl float64)
}

func (c TrainConfig) withDefaults() TrainConfig {
	if c.Steps == 0 {
		c.Steps = DefaultSteps
	}
	if c.LR == 0 {
		c.LR = DefaultLR
	}
	if c.Momentum == 0 {
		c.Momentum = DefaultMomentum
	}
	return c
}

// Trainer trains a tuned lens step by step. All its memory (a model
// workspace, the decoder, gradient and momentum buffers) is laid out by
// NewTrainer; Step allocates nothing. A Trainer belongs to one goroutine.
type Trainer struct {
	m      *transformer.Model
	t      *Tuned
	data   Data
	cfg    TrainConfig
	rng    *rand.Rand
	opt    *optim.SGD
	params []optim.Param

	ws     *transformer.Workspace
	views  []*tensor.Tensor // residual at each point, views into ws
	dec    *decoder
	tokens []int32   // [batch·pos]
	y, dy  []float32 // [rows, d_model]: translated residual and its gradient
	dq     []float32 // [rows, d_vocab_out]: gradient w.r.t. the lens logits
	probsP []float32 // [rows, d_vocab_out]
	probsQ []float32 // [rows, d_vocab_out]
	kls    []float64 // per trained point, from the last step
}

// NewTrainer returns a trainer that updates t (which must fit m) in place.
// It returns an error for an invalid data shape or hyperparameters.
func NewTrainer(m *transformer.Model, t *Tuned, data Data, cfg TrainConfig) (*Trainer, error) {
	cfg = cfg.withDefaults()
	if err := t.check(m.Cfg); err != nil {
		return nil, err
	}
	switch {
	case data.Fill == nil:
		return nil, fmt.Errorf("lens: training data has no Fill function")
	case data.Batch < 1 || data.Pos < 1 || data.Pos > m.Cfg.NCtx:
		return nil, fmt.Errorf("lens: training batches of %d×%d tokens, want batch ≥ 1 and 1 ≤ pos ≤ n_ctx %d", data.Batch, data.Pos, m.Cfg.NCtx)
	case cfg.Steps < 0 || !(cfg.LR > 0) || math.IsInf(cfg.LR, 0):
		return nil, fmt.Errorf("lens: training needs steps ≥ 0 and a finite learning rate > 0, got %d and %g", cfg.Steps, cfg.LR)
	}
	n := len(t.Labels) - 1 // the final point is not trained
	params := make([]optim.Param, 0, 2*n)
	grads := make([]float32, n*(t.DModel*t.DModel+t.DModel))
	off := 0
	for i := range n {
		for _, p := range []struct {
			name string
			data []float32
		}{{tensorName(i, "W"), t.W[i]}, {tensorName(i, "b"), t.B[i]}} {
			params = append(params, optim.Param{Name: p.name, Data: p.data, Grad: grads[off : off+len(p.data)]})
			off += len(p.data)
		}
	}
	var opt *optim.SGD
	if n > 0 {
		var err error
		if opt, err = optim.NewSGD(params, optim.SGDConfig{Momentum: cfg.Momentum, Nesterov: true}); err != nil {
			return nil, fmt.Errorf("lens: %w", err)
		}
	}
	rows, d, V := data.Batch*data.Pos, m.Cfg.DModel, m.Cfg.DVocabOut
	ws := m.NewWorkspace(data.Batch, data.Pos)
	return &Trainer{
		m: m, t: t, data: data, cfg: cfg, opt: opt, params: params,
		rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x7475_6e65_645f_6c65)),
		ws:  ws, views: residViews(m, ws), dec: newDecoder(m, rows),
		tokens: make([]int32, rows),
		y:      make([]float32, rows*d), dy: make([]float32, rows*d),
		dq:     make([]float32, rows*V),
		probsP: make([]float32, rows*V), probsQ: make([]float32, rows*V),
		kls: make([]float64, n),
	}, nil
}

// Steps returns the number of steps taken.
func (tr *Trainer) Steps() int {
	if tr.opt == nil {
		return 0
	}
	return tr.opt.Steps()
}

// KL returns the per-point KL(final ‖ lens) of the last step, before its
// update, for every trained point (all but the last). The slice is reused.
func (tr *Trainer) KL() []float64 { return tr.kls }

// Step draws a batch, computes every trained translator's loss
// KL(final ‖ lens), averaged over the batch's positions, and its gradient,
// and takes one SGD step with Nesterov momentum at the scheduled learning
// rate. It returns the mean KL over the trained points. It returns ctx's
// error, without changing anything, if ctx is done, and an error if the data
// holds an invalid token id.
func (tr *Trainer) Step(ctx context.Context) (float64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if tr.opt == nil {
		return 0, nil
	}
	tr.data.Fill(tr.tokens, tr.rng)
	for i, t := range tr.tokens {
		if t < 0 || int(t) >= tr.m.Cfg.DVocab {
			return 0, fmt.Errorf("lens: training token %d at sequence %d position %d is out of range [0, %d)", t, i/tr.data.Pos, i%tr.data.Pos, tr.m.Cfg.DVocab)
		}
	}
	if err := tr.ws.Forward(ctx, tr.tokens, nil); err != nil {
		return 0, err
	}
	optim.ZeroGrad(tr.params)
	final := tr.ws.Logits().Data
	var sum float64
	for i := range tr.kls {
		tr.kls[i] = tr.lossAndGrad(i, tr.views[i].Data, final)
		sum += tr.kls[i]
	}
	t := tr.opt.Steps()
	lr := tr.cfg.LR * max(0, 1-float64(t)/float64(tr.cfg.Steps)) // linear decay to 0
	tr.opt.Step(lr)
	return sum / float64(len(tr.kls)), nil
}

// lossAndGrad returns translator i's loss on the residual x [rows, d_model]
// against the final logits and accumulates its gradient into the
// translator's Grad buffers.
func (tr *Trainer) lossAndGrad(i int, x, final []float32) float64 {
	rows, d, V := tr.dec.rows, tr.t.DModel, tr.m.Cfg.DVocabOut
	tr.t.apply(tr.y, x, i, rows)
	q := tr.dec.forward(tr.y)
	kl := nn.KLForward(tr.probsP, tr.probsQ, final, q, nil, rows, V)
	clear(tr.dq)
	nn.KLBackward(nil, tr.dq, tr.probsP, tr.probsQ, final, q, nil, rows, V, 1)
	clear(tr.dy)
	tr.dec.backward(tr.dy, tr.dq, tr.y)
	w, b := tr.params[2*i], tr.params[2*i+1]
	nn.LinearBackward(nil, w.Grad, b.Grad, tr.dy, x, w.Data, rows, d, d)
	return kl
}

// Train trains a tuned lens for m on data from identity translators, as
// Belrose et al.: each translator minimises KL(final ‖ lens) with SGD and
// Nesterov momentum, the learning rate decayed linearly to 0. If ctx is done
// between steps it returns the lens trained so far and ctx's error.
func Train(ctx context.Context, m *transformer.Model, data Data, cfg TrainConfig) (*Tuned, error) {
	t := NewTuned(m.Cfg)
	tr, err := NewTrainer(m, t, data, cfg)
	if err != nil {
		return nil, err
	}
	for step := 1; step <= tr.cfg.Steps; step++ {
		kl, err := tr.Step(ctx)
		if err != nil {
			return t, err
		}
		if tr.cfg.Progress != nil {
			tr.cfg.Progress(step, kl)
		}
	}
	return t, nil
}
