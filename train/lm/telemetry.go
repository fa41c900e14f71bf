package lm

import (
	"context"
	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/patching"
	"math"
	"math/rand/v2"

	"github.com/mechinterp/workbench/circuits"
	"github.com/mechinterp/workbench/data"
	"github.com/mechinterp/workbench/train/induction"
	"github.com/mechinterp/workbench/transformer"
)

// Seeds of the fixed evaluation sets, apart from the training data's
// (seed, step+1) streams.
const (
	heldOutSeed  = 0x5eed_1c1
	prefixSeed   = 0x5eed_9f1
	repeatedSeed = 0x5eed_4e9
)

// Sizes of the evaluation sets.
const (
	frequentPool   = 100     // repeated random tokens are drawn from this many most frequent tokens
	prefixSeqs     = 16      // Olsson-style sequences for prefix matching and copying
	repeatedSeqs   = 8       // twice-repeated sequences for the induction and previous-token scores
	repeatedMaxLen = 256     // their length at most (the context at most)
	evalFloats     = 8 << 20 // attention-pattern floats one held-out chunk may hold
)

// ICLPositions returns the positions the ICL score compares for a context
// of T tokens: Olsson et al.'s tokens 50 and 500 of 512, scaled to T.
func ICLPositions(T int) (early, late int) {
	early = max(1, int(math.Round(50*float64(T)/512)))
	late = min(T-1, int(math.Round(500*float64(T)/512)))
	return early, late
}

// iclBand is the half-width of the band of positions averaged around each
// ICL position: ⌊T/32⌋.
func iclBand(T int) int { return T / 32 }

// ICLScore returns the mean of perPos over the band around late minus that
// around early (ICLPositions, iclBand): negative when later tokens are
// predicted better.
func ICLScore(perPos []float64) float64 {
	T := len(perPos)
	early, late := ICLPositions(T)
	w := iclBand(T)
	band := func(c int) float64 {
		lo, hi := max(0, c-w), min(T-1, c+w)
		s := 0.0
		for i := lo; i <= hi; i++ {
			s += perPos[i]
		}
		return s / float64(hi-lo+1)
	}
	return band(late) - band(early)
}

// Telemetry is one evaluation.
type Telemetry struct {
	Loss              float64     // mean held-out loss
	PerPosition       []float64   // held-out loss by position [T]
	ICL               float64     // ICLScore(PerPosition)
	PrefixMatching    [][]float64 // [layer][head]
	Copying           [][]float64 // [layer][head]
	PrevToken         [][]float64 // [layer][head]
	Induction         [][]float64 // [layer][head]
	PrefixMax, IndMax float64
}

func (t Telemetry) record(perPosition bool) map[string]any {
	early, late := ICLPositions(len(t.PerPosition))
	r := map[string]any{
		"eval_loss": t.Loss, "icl_score": t.ICL, "icl_positions": []int{early, late},
		"prefix_matching_score": t.PrefixMatching, "copying_score": t.Copying,
		"prev_token_score": t.PrevToken, "induction_score": t.Induction,
		"prefix_matching_max": t.PrefixMax, "induction_max": t.IndMax,
	}
	if perPosition {
		r["per_position_loss"] = t.PerPosition
	}
	return r
}

// evaluator measures the model on fixed sets, reusing its workspaces.
type evaluator struct {
	m        *transformer.Model
	held     *data.Batch // held-out windows
	chunk    int         // windows per forward pass
	wsHeld   *transformer.Workspace
	prefix   [][]int     // Olsson et al.'s 4 repeats of 25 distinct frequent tokens
	repeated *data.Batch // random frequent tokens repeated twice
	wsRep    *transformer.Workspace
	perPos   []float64
	scratch  []float64
}

func newEvaluator(m *transformer.Model, cfg Config, c *Corpus) (*evaluator, error) {
	T := cfg.Context
	task := data.TextLM{Shard: c.Shard, Lo: c.Split, Hi: c.Shard.Len(), SeqLen: T}
	// Windows spread evenly over the held-out text (overlapping when it is short).
	n := cfg.EvalWindows
	starts := make([]int, n)
	room := c.Shard.Len() - c.Split - T - 1
	for i := range starts {
		starts[i] = c.Split + i*room/max(1, n-1)
		if n == 1 {
			starts[i] = c.Split
		}
	}
	held := data.NewBatch(n, T)
	task.FillAt(held, starts)
	perWindow := max(1, m.Cfg.NLayers*m.Cfg.NHeads*T*T)
	chunk := max(1, min(n, evalFloats/perWindow))
	for n%chunk != 0 {
		chunk--
	}
	pool := frequentTokens(c.Shard, 0, c.Split, frequentPool)
	prefix, err := olssonSeqs(pool, T)
	if err != nil {
		return nil, err
	}
	rep := repeatedBatch(pool, min(T, repeatedMaxLen)&^1)
	return &evaluator{
		m: m, held: held, chunk: chunk, wsHeld: m.NewWorkspace(chunk, T),
		prefix: prefix, repeated: rep, wsRep: m.NewWorkspace(rep.N, rep.SeqLen),
		perPos: make([]float64, T),
	}, nil
}

// olssonSeqs returns Olsson et al.'s prefix-matching inputs drawn from pool:
// 4 repeats of a block of min(25, T/4, len(pool)) distinct tokens.
func olssonSeqs(pool []int, T int) ([][]int, error) {
	length := min(25, T/4, len(pool))
	seqs, err := circuits.RepeatedTokens(rand.New(rand.NewPCG(prefixSeed, 0)), prefixSeqs, max(length, 1), 4, len(pool), nil)
	if err != nil {
		return nil, err
	}
	for _, s := range seqs {
		for i, t := range s {
			s[i] = pool[t]
		}
	}
	return seqs, nil
}

// repeatedBatch returns sequences of T (even) tokens: a block of T/2
// tokens drawn uniformly (with replacement) from pool, repeated, Repeat =
// T/2 — the layout induction.AttentionScores reads (the second copy ends
// the sequence).
func repeatedBatch(pool []int, T int) *data.Batch {
	rng := rand.New(rand.NewPCG(repeatedSeed, 0))
	b := data.NewBatch(repeatedSeqs, T)
	L := T / 2
	for s := range b.N {
		tok, _, _ := b.Seq(s)
		for i := range L {
			tok[i] = int32(pool[rng.IntN(len(pool))])
		}
		for i := L; i < T; i++ {
			tok[i] = tok[i-L]
		}
		b.Repeat[s] = L
	}
	return b
}

// run evaluates the model.
func (e *evaluator) run(ctx context.Context) (Telemetry, error) {
	var t Telemetry
	var err error
	if t.Loss, err = e.heldOut(ctx); err != nil {
		return t, err
	}
	t.PerPosition = append([]float64(nil), e.perPos...)
	t.ICL = ICLScore(t.PerPosition)
	pats, err := circuits.RunPatterns(ctx, e.m, e.prefix)
	if err != nil {
		return t, err
	}
	if t.PrefixMatching, err = pats.PrefixMatching(); err != nil {
		return t, err
	}
	if t.Copying, err = circuits.CopyingScores(ctx, e.m, e.prefix, 0); err != nil {
		return t, err
	}
	if err := e.wsRep.Forward(ctx, e.repeated.Tokens, nil); err != nil {
		return t, err
	}
	t.PrevToken, t.Induction = induction.AttentionScores(e.wsRep, e.repeated)
	t.PrefixMax, t.IndMax = gridMax(t.PrefixMatching), gridMax(t.Induction)
	return t, nil
}

// InductionHeadMin is the induction score (on repeated random tokens) from
// which a head counts as an induction head in Ablation.
const InductionHeadMin = 0.3

// Ablation is the held-out ICL score with the model's induction heads
// mean-ablated (their outputs replaced by their mean over the held-out
// windows, position by position): how much of the ICL score they make.
type Ablation struct {
	Heads    [][2]int `json:"heads"` // [layer, head], induction score ≥ InductionHeadMin
	ICLScore float64  `json:"icl_score"`
	Loss     float64  `json:"eval_loss"`
}

// ablate measures the held-out loss and ICL score with the heads whose
// induction[layer][head] ≥ InductionHeadMin mean-ablated. It reports no
// heads (and the intact scores' zero values) when there are none.
func (e *evaluator) ablate(ctx context.Context, induction [][]float64) (Ablation, error) {
	var a Ablation
	var sites []patching.Site
	for l, row := range induction {
		for h, v := range row {
			if v >= InductionHeadMin {
				a.Heads = append(a.Heads, [2]int{l, h})
				sites = append(sites, patching.Site{Kind: patching.HeadOut, Layer: l, Head: h})
			}
		}
	}
	if len(sites) == 0 {
		return a, nil
	}
	T := e.held.SeqLen
	ref := make([][]int, e.held.N)
	for s := range ref {
		tok, _, _ := e.held.Seq(s)
		ref[s] = make([]int, T)
		for i, v := range tok {
			ref[s][i] = int(v)
		}
	}
	hs, err := patching.MeanAblation(ctx, e.m, ref, sites...)
	if err != nil {
		return a, err
	}
	if a.Loss, err = e.heldOutWith(ctx, hs); err != nil {
		return a, err
	}
	a.ICLScore = ICLScore(e.perPos)
	return a, nil
}

// heldOut runs the held-out windows in chunks, fills e.perPos with the mean
// loss by position and returns the mean loss.
func (e *evaluator) heldOut(ctx context.Context) (float64, error) { return e.heldOutWith(ctx, nil) }

// heldOutWith is heldOut with hooks hs on every forward pass.
func (e *evaluator) heldOutWith(ctx context.Context, hs *hooks.Set) (float64, error) {
	T := e.held.SeqLen
	clear(e.perPos)
	for c0 := 0; c0 < e.held.N; c0 += e.chunk {
		lo, hi := c0*T, (c0+e.chunk)*T
		if err := e.wsHeld.Forward(ctx, e.held.Tokens[lo:hi], hs); err != nil {
			return 0, err
		}
		e.scratch = TokenLosses(e.scratch, e.wsHeld.Logits().Data, e.held.Targets[lo:hi])
		for r, l := range e.scratch {
			e.perPos[r%T] += l
		}
	}
	total := 0.0
	for i := range e.perPos {
		e.perPos[i] /= float64(e.held.N)
		total += e.perPos[i]
	}
	return total / float64(T), nil
}

// TokenLosses writes into dst (grown as needed) each row's cross-entropy
// −log softmax(logits[r])[targets[r]], logits [rows, V], and returns it.
func TokenLosses(dst []float64, logits []float32, targets []int32) []float64 {
	rows := len(targets)
	V := len(logits) / rows
	dst = append(dst[:0], make([]float64, rows)...)
	for r := range rows {
		row := logits[r*V : (r+1)*V]
		m := float64(row[0])
		for _, v := range row {
			m = math.Max(m, float64(v))
		}
		s := 0.0
		for _, v := range row {
			s += math.Exp(float64(v) - m)
		}
		dst[r] = m + math.Log(s) - float64(row[targets[r]])
	}
	return dst
}

// gridMax returns the largest score of a [layer][head] grid.
func gridMax(g [][]float64) float64 {
	best := 0.0
	for _, row := range g {
		for _, v := range row {
			best = math.Max(best, v)
		}
	}
	return best
}
