package circuits

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/mat"

	"github.com/mechinterp/workbench/transformer"
)

// Thresholds for naming heads in a Report. They are judgement calls, stated
// so that a reader can disagree: each is far above what a head without the
// behaviour scores on the repeated-token sequences and well below what a
// trained head of that kind reaches.
const (
	// PrevTokenThreshold: a head names as previous-token when at least 30% of
	// its attention goes to the previous position (uniform causal attention
	// over 40 positions gives about 0.1).
	PrevTokenThreshold = 0.3
	// InductionThreshold: a head names as induction when its prefix-matching
	// score is at least 0.3 (uniform attention gives about 0.05 on the
	// toy models' sequences; trained induction heads exceed 0.8).
	InductionThreshold = 0.3
	// CopyingThreshold: a head names as copying when it raises the attended
	// token's logit at 80% of positions or more (chance is ½) and its full
	// OV circuit maps at least CopyingTop1 of the tokens to themselves. The
	// second condition leaves out heads, such as previous-token heads, whose
	// output raises the attended token a little but mostly writes something
	// else.
	CopyingThreshold = 0.8
	CopyingTop1      = 0.5
)

// Defaults for AnalyzeOptions' zero fields.
const (
	DefaultBaselineSamples = 100
	DefaultSequences       = 32
	DefaultTop             = 10
)

// AnalyzeOptions are the choices Analyze leaves to its caller; the zero
// value is usable.
type AnalyzeOptions struct {
	// Tokens, if not nil, are sequences on which to run TransformerLens's
	// detectors (previous-token, duplicate-token, induction; "mul").
	Tokens [][]int
	// Seed seeds the sampled baseline and the repeated-token sequences.
	Seed uint64
	// BaselineSamples is the number of random head pairs for the sampled
	// baseline (0: DefaultBaselineSamples).
	BaselineSamples int
	// Sequences is the number of repeated-token sequences (OlssonTokens) on
	// which heads are named (0: DefaultSequences).
	Sequences int
	// Prefix is put before every repeated-token sequence, such as a BOS
	// token; it is left out of the copying score.
	Prefix []int
	// Top is the number of strongest compositions listed (0: DefaultTop).
	Top int
}

// Report is everything Analyze finds, and what `workbench analyze --json`
// prints. Arrays of heads are [layer][head]; composition arrays are
// [writer layer][writer head][reader layer][reader head].
type Report struct {
	NLayers   int      `json:"n_layers"`
	NHeads    int      `json:"n_heads"`
	DModel    int      `json:"d_model"`
	DHead     int      `json:"d_head"`
	DVocab    int      `json:"d_vocab"`
	DVocabOut int      `json:"d_vocab_out"`
	Heads     []string `json:"heads"` // HeadLabels, layer-major

	Composition *Composition `json:"composition"`
	// CompositionBaseline is the analytic baseline 1/√d_model.
	CompositionBaseline float64 `json:"composition_baseline"`
	// SampledBaseline is the score of random heads of the model's shapes.
	SampledBaseline Baseline `json:"composition_baseline_sampled"`
	// Strongest are the Top largest Q-, K- and V-composition scores.
	Strongest []PairScore `json:"strongest_compositions"`

	// Of the full OV circuit: its eigenvalue positivity and top-1 diagonal
	// accuracy, over the token ids below min(d_vocab, d_vocab_out).
	OVEigenPositivity [][]float64 `json:"ov_eigen_positivity"`
	FullOVTop1        [][]float64 `json:"full_ov_top1"`

	// Detector scores ("mul") on AnalyzeOptions.Tokens; nil without tokens.
	PrevTokenScore      [][]float64 `json:"prev_token_score,omitempty"`
	DuplicateTokenScore [][]float64 `json:"duplicate_token_score,omitempty"`
	InductionScore      [][]float64 `json:"induction_score,omitempty"`

	// Scores on the repeated-token sequences, which name the heads.
	Repeated            RepeatedInfo `json:"repeated_tokens"`
	RepeatedPrevToken   [][]float64  `json:"repeated_prev_token_score"`
	PrefixMatchingScore [][]float64  `json:"prefix_matching_score"`
	CopyingScore        [][]float64  `json:"copying_score"`

	// The heads that look like each kind, strongest first.
	PrevTokenHeads []HeadScore     `json:"previous_token_heads"`
	InductionHeads []InductionHead `json:"induction_heads"`
	CopyingHeads   []HeadScore     `json:"copying_heads"`
}

// RepeatedInfo describes the repeated-token sequences of a Report.
type RepeatedInfo struct {
	Sequences int   `json:"sequences"`
	Block     int   `json:"block"`
	Repeats   int   `json:"repeats"`
	Prefix    []int `json:"prefix"`
	// Note says why there are no repeated-token scores, when there are none.
	Note string `json:"note,omitempty"`
}

// HeadScore is one head and a score.
type HeadScore struct {
	Label string  `json:"label"`
	Layer int     `json:"layer"`
	Head  int     `json:"head"`
	Score float64 `json:"score"`
}

// PairScore is one composition score: mode "Q", "K" or "V", the writer and
// reader heads, the score and the score over the analytic baseline.
type PairScore struct {
	Mode     string  `json:"mode"`
	Writer   string  `json:"writer"`
	Reader   string  `json:"reader"`
	L1       int     `json:"l1"`
	H1       int     `json:"h1"`
	L2       int     `json:"l2"`
	H2       int     `json:"h2"`
	Score    float64 `json:"score"`
	Relative float64 `json:"relative"`
}

// InductionHead is a head named as induction (Score is its prefix-matching
// score) with the earlier head it K-composes with most: K is that score,
// KRelative the multiple of the analytic baseline, KPositivity the
// eigenvalue positivity of their K-composition circuit, and
// WriterIsPrevToken whether that writer is named as a previous-token head —
// the two-head induction circuit of Elhage et al. (2021).
type InductionHead struct {
	HeadScore
	KWriter           string  `json:"k_writer"`
	K                 float64 `json:"k_composition"`
	KRelative         float64 `json:"k_relative"`
	KPositivity       float64 `json:"k_eigen_positivity"`
	WriterIsPrevToken bool    `json:"writer_is_prev_token"`
}

// Analyze computes the circuit report of m: composition scores with their
// baselines, full-OV eigenvalue positivity and top-1 accuracy, detector
// scores on opt.Tokens, and, on OlssonTokens sequences, previous-token,
// prefix-matching and copying scores from which it names previous-token,
// induction and copying heads (see the Threshold constants).
//
// Its cost is dominated, for a large vocabulary, by FullOV and Top1Diagonal
// (d_vocab²·d_head per head); for the toy models it takes milliseconds.
// The error reports invalid tokens or options, or is ctx.Err().
func Analyze(ctx context.Context, m *transformer.Model, opt AnalyzeOptions) (*Report, error) {
	c := m.Cfg
	w := WeightsOf(m)
	r := &Report{
		NLayers: c.NLayers, NHeads: c.NHeads, DModel: c.DModel, DHead: c.DHead, DVocab: c.DVocab, DVocabOut: c.DVocabOut,
		Heads: HeadLabels(c.NLayers, c.NHeads),
	}
	rng := rand.New(rand.NewPCG(opt.Seed, opt.Seed^0x9e3779b97f4a7c15))
	var err error
	if r.Composition, err = w.CompositionScores(ctx); err != nil {
		return nil, err
	}
	if r.SampledBaseline, err = RandomBaseline(rng, c.DModel, c.DHead, cmp.Or(opt.BaselineSamples, DefaultBaselineSamples)); err != nil {
		return nil, err
	}
	r.CompositionBaseline = r.SampledBaseline.Analytic
	r.Strongest = strongest(r.Composition, r.CompositionBaseline, cmp.Or(opt.Top, DefaultTop))
	if r.OVEigenPositivity, r.FullOVTop1, err = ovStats(ctx, w); err != nil {
		return nil, err
	}
	if opt.Tokens != nil {
		if err := r.detect(ctx, m, opt.Tokens); err != nil {
			return nil, err
		}
	}
	if err := r.repeated(ctx, m, rng, opt); err != nil {
		return nil, err
	}
	return r, r.name(w)
}

// ovStats returns the full OV circuit's eigenvalue positivity and top-1
// diagonal accuracy for every head. When d_vocab ≠ d_vocab_out the circuit
// is not square, and both are taken over its square block: the token ids
// below min(d_vocab, d_vocab_out), inputs and outputs alike. Positivity
// goes through the d_head×d_head matrix W_O·(W_U·W_E)·W_V, with W_U·W_E
// formed once.
func ovStats(ctx context.Context, w *Weights) (pos, top1 [][]float64, err error) {
	nLayers, nHeads := w.Dims()
	pos, top1 = grid2(nLayers, nHeads), grid2(nLayers, nHeads)
	nIn, dModel := w.WE.Dims()
	_, nOut := w.WU.Dims()
	n := min(nIn, nOut)
	wE := w.WE.Slice(0, n, 0, dModel).(*mat.Dense) // [n, d_model]
	wU := w.WU.Slice(0, dModel, 0, n).(*mat.Dense) // [d_model, n]
	var ue mat.Dense
	ue.Mul(wU, wE) // [d_model, d_model]
	for l := range nLayers {
		for h, hw := range w.heads[l] {
			var oue mat.Dense
			oue.Mul(hw.O, &ue) // [d_head, d_model]
			// (W_O·W_U·W_E)·W_V [d_head, d_head] has the full OV circuit's
			// non-zero eigenvalues; EigenPositivity forms it as A·B.
			if pos[l][h], err = EigenPositivity(factored(&oue, hw.V)); err != nil {
				return nil, nil, err
			}
			ov, err := FullOV(wE, hw.V, hw.O, wU)
			if err != nil {
				return nil, nil, err
			}
			if top1[l][h], err = Top1Diagonal(ctx, ov); err != nil {
				return nil, nil, err
			}
		}
	}
	return pos, top1, nil
}

// detect fills the detector scores on the caller's tokens.
func (r *Report) detect(ctx context.Context, m *transformer.Model, tokens [][]int) error {
	p, err := RunPatterns(ctx, m, tokens)
	if err != nil {
		return err
	}
	for _, d := range []struct {
		dst *[][]float64
		det DetectionPattern
	}{
		{&r.PrevTokenScore, PrevTokenPattern},
		{&r.DuplicateTokenScore, DuplicateTokenPattern},
		{&r.InductionScore, InductionPattern},
	} {
		if *d.dst, err = p.Detect(d.det, DetectOptions{}); err != nil {
			return err
		}
	}
	return nil
}

// repeated fills the scores on repeated-token sequences.
func (r *Report) repeated(ctx context.Context, m *transformer.Model, rng *rand.Rand, opt AnalyzeOptions) error {
	n := cmp.Or(opt.Sequences, DefaultSequences)
	seqs, err := OlssonTokens(rng, m, n, opt.Prefix)
	if err != nil {
		// The model's context or vocabulary is too small: no heads are named.
		r.Repeated.Note = err.Error()
		return nil
	}
	block := (len(seqs[0]) - len(opt.Prefix)) / olssonRepeats
	r.Repeated = RepeatedInfo{Sequences: n, Block: block, Repeats: olssonRepeats, Prefix: append([]int{}, opt.Prefix...)}
	p, err := RunPatterns(ctx, m, seqs)
	if err != nil {
		return err
	}
	if r.RepeatedPrevToken, err = p.Detect(PrevTokenPattern, DetectOptions{}); err != nil {
		return err
	}
	if r.PrefixMatchingScore, err = p.PrefixMatching(); err != nil {
		return err
	}
	r.CopyingScore, err = CopyingScores(ctx, m, seqs, len(opt.Prefix))
	return err
}

// name picks out the heads of each kind.
func (r *Report) name(w *Weights) error {
	above := func(s [][]float64, min float64, ok func(l, h int) bool) []HeadScore {
		var out []HeadScore
		for l := range s {
			for h, v := range s[l] {
				if v >= min && ok(l, h) {
					out = append(out, HeadScore{Label: HeadLabel(l, h), Layer: l, Head: h, Score: v})
				}
			}
		}
		slices.SortStableFunc(out, func(a, b HeadScore) int { return cmp.Compare(b.Score, a.Score) })
		return out
	}
	all := func(int, int) bool { return true }
	r.PrevTokenHeads = above(r.RepeatedPrevToken, PrevTokenThreshold, all)
	r.CopyingHeads = above(r.CopyingScore, CopyingThreshold, func(l, h int) bool { return r.FullOVTop1[l][h] >= CopyingTop1 })
	isPrev := map[string]bool{}
	for _, p := range r.PrevTokenHeads {
		isPrev[p.Label] = true
	}
	var gram mat.Dense
	gram.Mul(w.WE.T(), w.WE)
	for _, hs := range above(r.PrefixMatchingScore, InductionThreshold, all) {
		ih := InductionHead{HeadScore: hs}
		if hs.Layer > 0 {
			l1, h1 := 0, 0
			for l := range hs.Layer {
				for h := range r.NHeads {
					if k := r.Composition.K[l][h][hs.Layer][hs.Head]; k > ih.K {
						ih.K, l1, h1 = k, l, h
					}
				}
			}
			ih.KWriter = HeadLabel(l1, h1)
			ih.KRelative = ih.K / r.CompositionBaseline
			ih.WriterIsPrevToken = isPrev[ih.KWriter]
			var err error
			if ih.KPositivity, err = kCompPositivity(&gram, w.heads[l1][h1], w.heads[hs.Layer][hs.Head]); err != nil {
				return err
			}
		}
		r.InductionHeads = append(r.InductionHeads, ih)
	}
	return nil
}

// strongest returns the top n composition scores over all modes and pairs.
func strongest(c *Composition, baseline float64, n int) []PairScore {
	var all []PairScore
	for m, g := range c.modes() {
		for l1 := range g {
			for h1 := range g[l1] {
				for l2 := l1 + 1; l2 < len(g); l2++ {
					for h2, v := range g[l1][h1][l2] {
						all = append(all, PairScore{
							Mode: "QKV"[m : m+1], Writer: HeadLabel(l1, h1), Reader: HeadLabel(l2, h2),
							L1: l1, H1: h1, L2: l2, H2: h2, Score: v, Relative: v / baseline,
						})
					}
				}
			}
		}
	}
	slices.SortStableFunc(all, func(a, b PairScore) int { return cmp.Compare(b.Score, a.Score) })
	return all[:min(n, len(all))]
}

// String describes the report in one line.
func (r *Report) String() string {
	return fmt.Sprintf("circuits report: %d layers × %d heads, %d previous-token, %d induction, %d copying heads",
		r.NLayers, r.NHeads, len(r.PrevTokenHeads), len(r.InductionHeads), len(r.CopyingHeads))
}
