package transformer

import (
	"context"
	"fmt"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
)

// Model is a transformer: a validated Config and its parameters. A Model
// holds no hooks and no activations: Run and Workspace take those per call,
// so one Model is safe for concurrent use by many goroutines as long as
// nobody writes its parameters meanwhile.
type Model struct {
	Cfg Config
	P   *Params
	nm  names
}

// New returns a model for c with TransformerLens's default initialisation
// (weights normal(0, initializer_range), biases 0, norm gains 1), seeded by
// c.Seed. c is completed with WithDefaults and validated.
func New(c Config) (*Model, error) {
	m, err := newZero(c)
	if err != nil {
		return nil, err
	}
	initParams(m.Cfg, m.P)
	return m, nil
}

// newZero returns a model with zeroed parameters.
func newZero(c Config) (*Model, error) {
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &Model{Cfg: c, P: newParams(c), nm: newNames(c.NLayers)}, nil
}

// NewGrads returns a zeroed gradient buffer with the model's parameter layout.
func (m *Model) NewGrads() *Params { return newParams(m.Cfg) }

// Clone returns a deep copy of the model.
func (m *Model) Clone() *Model {
	c := &Model{Cfg: m.Cfg, P: newParams(m.Cfg), nm: m.nm}
	copy(c.P.data, m.P.data)
	return c
}

// names caches every hook point name so that a run builds no strings.
type names struct {
	embed, posEmbed                      hooks.Name
	residPre, residMid, residPost        []hooks.Name
	ln1Scale, ln1Norm, ln2Scale, ln2Norm []hooks.Name
	q, k, v, z, scores, pattern, result  []hooks.Name
	attnOut, mlpPre, mlpPost, mlpOut     []hooks.Name
	rotQ, rotK, mlpPreLinear             []hooks.Name
	lnfScale, lnfNorm, unembed           hooks.Name
}

func newNames(n int) names {
	per := func(f func(int) hooks.Name) []hooks.Name {
		s := make([]hooks.Name, n)
		for l := range s {
			s[l] = f(l)
		}
		return s
	}
	return names{
		embed: hooks.Embed(), posEmbed: hooks.PosEmbed(),
		residPre: per(hooks.ResidPre), residMid: per(hooks.ResidMid), residPost: per(hooks.ResidPost),
		ln1Scale: per(hooks.LN1Scale), ln1Norm: per(hooks.LN1Normalized),
		ln2Scale: per(hooks.LN2Scale), ln2Norm: per(hooks.LN2Normalized),
		q: per(hooks.Q), k: per(hooks.K), v: per(hooks.V), z: per(hooks.Z),
		scores: per(hooks.AttnScores), pattern: per(hooks.Pattern), result: per(hooks.Result),
		attnOut: per(hooks.AttnOut), mlpPre: per(hooks.MLPPre), mlpPost: per(hooks.MLPPost), mlpOut: per(hooks.MLPOut),
		rotQ: per(hooks.RotQ), rotK: per(hooks.RotK), mlpPreLinear: per(hooks.MLPPreLinear),
		lnfScale: hooks.LNFinalScale(), lnfNorm: hooks.LNFinalNormalized(), unembed: hooks.UnembedOut(),
	}
}

// HookPoints lists every hook point this model has, in the order a forward
// pass reaches them.
func (m *Model) HookPoints() []hooks.Name {
	c, n := m.Cfg, m.nm
	out := []hooks.Name{n.embed}
	rotary := c.PositionalEmbeddingType == PosRotary
	if !rotary {
		out = append(out, n.posEmbed)
	}
	for l := 0; l < c.NLayers; l++ {
		out = append(out, n.residPre[l])
		if c.HasNorm() {
			out = append(out, n.ln1Scale[l], n.ln1Norm[l])
		}
		out = append(out, n.q[l], n.k[l], n.v[l])
		if rotary {
			out = append(out, n.rotQ[l], n.rotK[l])
		}
		out = append(out, n.scores[l], n.pattern[l], n.z[l], n.result[l], n.attnOut[l])
		if c.HasMLP() {
			if !c.ParallelAttnMLP {
				out = append(out, n.residMid[l])
			}
			if c.HasNorm() {
				out = append(out, n.ln2Scale[l], n.ln2Norm[l])
			}
			out = append(out, n.mlpPre[l])
			if c.GatedMLP {
				out = append(out, n.mlpPreLinear[l])
			}
			out = append(out, n.mlpPost[l], n.mlpOut[l])
		}
		out = append(out, n.residPost[l])
	}
	if c.HasNorm() {
		out = append(out, n.lnfScale, n.lnfNorm)
	}
	return append(out, n.unembed)
}

// ParseHook checks a hook name typed by a user against this model's points.
func (m *Model) ParseHook(s string) (hooks.Name, error) { return hooks.Parse(s, m.HookPoints()) }

// CheckTokens validates a batch of token sequences from outside the process:
// non-empty, all the same length, at most n_ctx long, ids in [0, d_vocab).
// It returns them flattened as [batch·pos] int32.
func (m *Model) CheckTokens(tokens [][]int) (flat []int32, batch, pos int, err error) {
	if len(tokens) == 0 {
		return nil, 0, 0, fmt.Errorf("transformer: no token sequences")
	}
	pos = len(tokens[0])
	if pos == 0 {
		return nil, 0, 0, fmt.Errorf("transformer: sequence 0 is empty")
	}
	if pos > m.Cfg.NCtx {
		return nil, 0, 0, fmt.Errorf("transformer: sequence of %d tokens is longer than n_ctx %d", pos, m.Cfg.NCtx)
	}
	flat = make([]int32, 0, len(tokens)*pos)
	for b, seq := range tokens {
		if len(seq) != pos {
			return nil, 0, 0, fmt.Errorf("transformer: sequence %d has %d tokens, sequence 0 has %d (sequences in a batch must have equal length)", b, len(seq), pos)
		}
		for p, t := range seq {
			if t < 0 || t >= m.Cfg.DVocab {
				return nil, 0, 0, fmt.Errorf("transformer: token %d at sequence %d position %d is out of range [0, %d)", t, b, p, m.Cfg.DVocab)
			}
			flat = append(flat, int32(t))
		}
	}
	return flat, len(tokens), pos, nil
}

// Run runs the model on a batch of equal-length token sequences with the
// given hooks (nil for none) and returns the logits, [batch, pos,
// d_vocab_out]. Invalid tokens are errors, not panics. It runs on an
// inference workspace, and on every core for large models (runWorkspace).
func (m *Model) Run(ctx context.Context, tokens [][]int, hs *hooks.Set) (*tensor.Tensor, error) {
	flat, batch, pos, err := m.CheckTokens(tokens)
	if err != nil {
		return nil, err
	}
	ws, done := m.runWorkspace(batch, pos)
	defer done()
	if err := ws.Forward(ctx, flat, hs); err != nil {
		return nil, err
	}
	return ws.Logits().Clone(), nil
}

// Loss returns the mean next-token cross-entropy of the model on tokens:
// the logits at position i predict token i+1, averaged over positions
// 0..pos-2 of every sequence, or only over positions where mask (shape
// [batch][pos], may be nil) is non-zero.
func (m *Model) Loss(ctx context.Context, tokens [][]int, mask [][]float32, hs *hooks.Set) (float64, error) {
	loss, _, err := m.lossAndGrads(ctx, tokens, mask, hs, false)
	return loss, err
}

// Gradients returns the loss (as Loss) and its gradient with respect to every
// parameter, running backward hooks in hs.
func (m *Model) Gradients(ctx context.Context, tokens [][]int, mask [][]float32, hs *hooks.Set) (float64, *Params, error) {
	return m.lossAndGrads(ctx, tokens, mask, hs, true)
}

func (m *Model) lossAndGrads(ctx context.Context, tokens [][]int, mask [][]float32, hs *hooks.Set, grad bool) (float64, *Params, error) {
	flat, batch, pos, err := m.CheckTokens(tokens)
	if err != nil {
		return 0, nil, err
	}
	if pos < 2 {
		return 0, nil, fmt.Errorf("transformer: loss needs sequences of at least 2 tokens, got %d", pos)
	}
	targets, weights := NextTokenTargets(flat, batch, pos)
	for i, t := range targets {
		if weights[i] != 0 && int(t) >= m.Cfg.DVocabOut {
			return 0, nil, fmt.Errorf("transformer: target token %d (sequence %d, position %d) is outside the output vocabulary [0, %d)", t, i/pos, i%pos+1, m.Cfg.DVocabOut)
		}
	}
	if mask != nil {
		if len(mask) != batch {
			return 0, nil, fmt.Errorf("transformer: mask has %d rows, tokens have %d", len(mask), batch)
		}
		for b := range mask {
			if len(mask[b]) != pos {
				return 0, nil, fmt.Errorf("transformer: mask row %d has %d entries, want %d", b, len(mask[b]), pos)
			}
			for p := 0; p < pos; p++ {
				weights[b*pos+p] *= mask[b][p]
			}
		}
	}
	var ws *Workspace
	if grad {
		ws = m.NewWorkspace(batch, pos)
	} else { // forward only: as Run
		var done func()
		ws, done = m.runWorkspace(batch, pos)
		defer done()
	}
	if err := ws.Forward(ctx, flat, hs); err != nil {
		return 0, nil, err
	}
	loss := ws.Loss(targets, weights)
	if !grad {
		return loss, nil, nil
	}
	g := m.NewGrads()
	if err := ws.Backward(g, hs); err != nil {
		return 0, nil, err
	}
	return loss, g, nil
}

// NextTokenTargets returns the next-token targets and loss weights for a
// flat [batch·pos] token batch: target[b,p] = token[b,p+1] with weight 1 for
// p < pos-1; the last position has target 0 and weight 0.
func NextTokenTargets(tokens []int32, batch, pos int) (targets []int32, weights []float32) {
	targets = make([]int32, batch*pos)
	weights = make([]float32, batch*pos)
	for b := 0; b < batch; b++ {
		for p := 0; p+1 < pos; p++ {
			targets[b*pos+p] = tokens[b*pos+p+1]
			weights[b*pos+p] = 1
		}
	}
	return targets, weights
}
