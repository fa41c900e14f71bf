package main

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/mechinterp/workbench/optim"
	"github.com/mechinterp/workbench/transformer"
)

// variant is one of the four models: tied or untied embeddings, with the
// attention head switched off (the direct path W_E·W_U alone) or on.
type variant struct {
	Name, Key string
	Tied      bool
	Head      bool
}

// runSizes are the training sizes shared by the four models.
type runSizes struct {
	DModel, NCtx        int
	Batch, Steps        int
	LR                  float64
	EvalBatch, LogEvery int
}

// trained is a trained model with its curves.
type trained struct {
	v          variant
	m          *transformer.Model
	steps      []float64 // logged steps
	trainLoss  []float64
	evalLoss   []float64 // held-out loss at the logged steps
	finalEval  float64
	frozenAttn bool
}

// region: config

// modelConfig is the architecture: one attention-only layer without
// LayerNorm, so that the direct path from token to logits is exactly
// W_E·W_U (plus position and bias terms that do not depend on the token
// pair), and d_model ≥ d_vocab so that rank is no constraint.
func modelConfig(V int, s runSizes, tied bool, seed uint64) transformer.Config {
	return transformer.Config{NLayers: 1, DModel: s.DModel, NHeads: 2, DHead: s.DModel / 2, DVocab: V, NCtx: s.NCtx,
		AttnOnly: true, NormalizationType: transformer.NormNone, TiedEmbeddings: tied, Seed: seed}
}

// endregion

// region: train

// trainBigram trains variant v on sequences from the chain with Adam and a
// cosine schedule. Without a head, W_O and b_O are set to zero and left out
// of the optimizer, so the attention layer adds nothing and the model is
// its direct path: logits = (W_E[a] + W_pos[t])·W_U + b_U.
func trainBigram(ctx context.Context, ch *chain, v variant, s runSizes, seed uint64) (*trained, error) {
	m, err := transformer.New(modelConfig(ch.V, s, v.Tied, seed))
	if err != nil {
		return nil, err
	}
	if !v.Head {
		clear(m.P.Blocks[0].WO)
		clear(m.P.Blocks[0].BO)
	}
	g := m.NewGrads()
	var params []optim.Param
	for _, pv := range m.ParamViews(g) {
		if !v.Head && strings.Contains(pv.Name, ".attn.") {
			continue // frozen: the head stays switched off
		}
		params = append(params, optim.Param{Name: pv.Name, Data: pv.Data, Grad: pv.Grad})
	}
	opt, err := optim.NewAdam(params, optim.AdamConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8})
	if err != nil {
		return nil, err
	}
	sched := optim.Cosine(s.LR, s.Steps/20, s.Steps, s.LR/10)
	T := s.NCtx
	ws := m.NewWorkspace(s.Batch, T)
	tokens := make([]int32, s.Batch*T)
	targets, weights := make([]int32, s.Batch*T), nextTokenWeights(s.Batch, T)
	ev := newEvalSet(ch, s.EvalBatch, T, seed)
	rng := rand.New(rand.NewPCG(seed, 55)) // the data stream
	t := &trained{v: v, m: m, frozenAttn: !v.Head}
	for step := range s.Steps {
		ch.fill(tokens, s.Batch, T, rng)
		nextTokens(targets, tokens, s.Batch, T)
		if err := ws.Forward(ctx, tokens, nil); err != nil {
			return nil, err
		}
		loss := ws.Loss(targets, weights)
		clear(g.Data())
		if err := ws.Backward(g, nil); err != nil {
			return nil, err
		}
		opt.Step(sched(step))
		if step%s.LogEvery == 0 || step == s.Steps-1 {
			e, err := ev.loss(ctx, m)
			if err != nil {
				return nil, err
			}
			t.steps = append(t.steps, float64(step+1))
			t.trainLoss, t.evalLoss = append(t.trainLoss, loss), append(t.evalLoss, e)
		}
	}
	t.finalEval = t.evalLoss[len(t.evalLoss)-1]
	return t, nil
}

// endregion

// nextTokenWeights returns the loss mask: 1 at every position with a next
// token, 0 at the last.
func nextTokenWeights(batch, T int) []float32 {
	w := make([]float32, batch*T)
	for s := range batch {
		for t := range T - 1 {
			w[s*T+t] = 1
		}
	}
	return w
}

// nextTokens writes the next-token targets (0 at each last position, which
// has weight 0).
func nextTokens(dst, tokens []int32, batch, T int) {
	for s := range batch {
		for t := range T - 1 {
			dst[s*T+t] = tokens[s*T+t+1]
		}
		dst[s*T+T-1] = 0
	}
}

// evalSet is a fixed held-out set of sequences.
type evalSet struct {
	tokens, targets []int32
	weights         []float32
	batch, T        int
	trueLoss        float64 // the true transition matrix's loss on this set
}

func newEvalSet(ch *chain, batch, T int, seed uint64) *evalSet {
	e := &evalSet{tokens: make([]int32, batch*T), targets: make([]int32, batch*T), weights: nextTokenWeights(batch, T), batch: batch, T: T}
	ch.fill(e.tokens, batch, T, rand.New(rand.NewPCG(seed, 99)))
	nextTokens(e.targets, e.tokens, batch, T)
	var sum float64
	for s := range batch {
		for t := range T - 1 {
			sum -= ch.logP[e.tokens[s*T+t]][e.tokens[s*T+t+1]]
		}
	}
	e.trueLoss = sum / float64(batch*(T-1))
	return e
}

func (e *evalSet) loss(ctx context.Context, m *transformer.Model) (float64, error) {
	ws := m.NewWorkspace(e.batch, e.T)
	if err := ws.Forward(ctx, e.tokens, nil); err != nil {
		return 0, err
	}
	return ws.Loss(e.targets, e.weights), nil
}

// selfAttention returns the mean attention each position pays to itself
// on the set (positions ≥ 1; position 0 can only attend to itself).
func (e *evalSet) selfAttention(ctx context.Context, m *transformer.Model) (float64, error) {
	ws := m.NewWorkspace(e.batch, e.T)
	if err := ws.Forward(ctx, e.tokens, nil); err != nil {
		return 0, err
	}
	p := ws.Pattern(0) // [batch, head, dest, src]
	B, H, T := p.Shape[0], p.Shape[1], p.Shape[2]
	var sum float64
	for b := range B {
		for h := range H {
			for q := 1; q < T; q++ {
				sum += float64(p.Data[((b*H+h)*T+q)*T+q])
			}
		}
	}
	return sum / float64(B*H*(T-1)), nil
}

// region: direct

// directPath returns W_E·W_U [d_vocab, d_vocab]: how much token a, through the
// residual stream alone, raises the logit of token b. With tied embeddings
// W_U = W_Eᵀ and this is W_E·W_Eᵀ, symmetric by construction.
func directPath(m *transformer.Model) [][]float64 {
	V, d := m.Cfg.DVocab, m.Cfg.DModel
	wu := m.Unembed().Data // [d_model, d_vocab]
	M := newMatrix(V)
	for a := range V {
		for b := range V {
			var s float64
			for k := range d {
				s += float64(m.P.WE[a*d+k]) * float64(wu[k*V+b])
			}
			M[a][b] = s
		}
	}
	return M
}

// endregion

// positionZero returns the model's logits at position 0 for every input
// token, [d_vocab][d_vocab]: the complete bigram table the model computes
// there, where attention can only look at the token itself.
func positionZero(ctx context.Context, m *transformer.Model) ([][]float64, error) {
	V := m.Cfg.DVocab
	toks := make([][]int, V)
	for a := range toks {
		toks[a] = []int{a}
	}
	logits, err := m.Run(ctx, toks, nil) // [V, 1, V]
	if err != nil {
		return nil, err
	}
	T := newMatrix(V)
	for a := range V {
		for b := range V {
			T[a][b] = float64(logits.Data[a*V+b])
		}
	}
	return T, nil
}

// directAtZero returns the direct path's part of the position-0 table:
// (W_E[a] + W_pos[0])·W_U + b_U.
func directAtZero(m *transformer.Model) [][]float64 {
	V, d := m.Cfg.DVocab, m.Cfg.DModel
	wu := m.Unembed().Data
	T := newMatrix(V)
	for a := range V {
		for b := range V {
			s := float64(m.P.BU[b])
			for k := range d {
				s += (float64(m.P.WE[a*d+k]) + float64(m.P.WPos[k])) * float64(wu[k*V+b])
			}
			T[a][b] = s
		}
	}
	return T
}

// repeatProb returns the mean over tokens a of the probability a table
// gives to a → a.
func repeatProb(L [][]float64) float64 {
	var s float64
	for a := range L {
		s += softmaxRow(L[a])[a]
	}
	return s / float64(len(L))
}

// successorProb returns the mean probability a table gives to a → σ(a).
func successorProb(L [][]float64, next []int) float64 {
	var s float64
	for a := range L {
		s += softmaxRow(L[a])[next[a]]
	}
	return s / float64(len(L))
}

// predecessorProb returns the mean probability a table gives to σ(a) → a:
// the reverse of the likely transition.
func predecessorProb(L [][]float64, next []int) float64 {
	var s float64
	for a := range L {
		s += softmaxRow(L[next[a]])[a]
	}
	return s / float64(len(L))
}

func sub(A, B [][]float64) [][]float64 {
	C := newMatrix(len(A))
	for i := range A {
		for j := range A[i] {
			C[i][j] = A[i][j] - B[i][j]
		}
	}
	return C
}

func logMatrix(P [][]float64) [][]float64 {
	L := newMatrix(len(P))
	for i := range P {
		for j := range P[i] {
			L[i][j] = math.Log(P[i][j])
		}
	}
	return L
}
