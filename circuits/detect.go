package circuits

import (
	"context"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
	"github.com/mechinterp/workbench/transformer"
)

// A DetectionPattern gives, for one token sequence of length T, the
// attention pattern [T, T] (row = query position, column = key position)
// that the kind of head being looked for would show, after
// TransformerLens's head_detector. It must be lower triangular (causal).
type DetectionPattern func(tokens []int) *mat.Dense

// PrevTokenPattern is the previous-token head's pattern: 1 at (i, i−1) for
// i ≥ 1, as TransformerLens's get_previous_token_head_detection_pattern.
func PrevTokenPattern(tokens []int) *mat.Dense {
	n := len(tokens)
	p := mat.NewDense(max(n, 1), max(n, 1), nil)
	for i := 1; i < n; i++ {
		p.Set(i, i-1, 1)
	}
	return p
}

// DuplicateTokenPattern is the duplicate-token head's pattern: 1 at (i, j)
// for every earlier position j < i holding the same token as i, as
// TransformerLens's get_duplicate_token_head_detection_pattern (a token is
// not its own duplicate).
func DuplicateTokenPattern(tokens []int) *mat.Dense {
	n := len(tokens)
	p := mat.NewDense(max(n, 1), max(n, 1), nil)
	for i := range n {
		for j := range i {
			if tokens[j] == tokens[i] {
				p.Set(i, j, 1)
			}
		}
	}
	return p
}

// InductionPattern is the induction head's pattern: 1 at (i, j) for
// 1 ≤ j ≤ i when the token before j equals the token at i — the head
// attends to the token that followed an earlier occurrence of its own. It
// is TransformerLens's get_induction_head_detection_pattern (the duplicate
// pattern shifted one key to the right, column 0 cleared); note that j = i
// counts when a token repeats at once (tokens[i−1] == tokens[i]).
func InductionPattern(tokens []int) *mat.Dense {
	n := len(tokens)
	p := mat.NewDense(max(n, 1), max(n, 1), nil)
	for i := range n {
		for j := 1; j <= i; j++ {
			if tokens[j-1] == tokens[i] {
				p.Set(i, j, 1)
			}
		}
	}
	return p
}

// FixedPattern returns a DetectionPattern that gives p whatever the tokens,
// TransformerLens's detect_head with a tensor; the sequences scored against
// it must then all have p's length.
func FixedPattern(p *mat.Dense) DetectionPattern {
	return func([]int) *mat.Dense { return p }
}

// Measure is how DetectionScore compares an attention pattern A with a
// detection pattern P.
type Measure int

const (
	// Mul is TransformerLens's "mul" (its default): Σ A⊙P / Σ A, the fraction
	// of the head's attention that falls where P is 1. P should hold 0s and
	// 1s (TransformerLens logs a warning otherwise; we do not).
	Mul Measure = iota
	// Abs is TransformerLens's "abs": 1 − Σ|A − P| / T for a sequence of T
	// tokens, 1 for a perfect match and −1 for a complete mismatch of
	// one-hot rows. TransformerLens rounds Σ|A − P|/T to 3 decimals; we do
	// not.
	Abs
)

// String returns "mul" or "abs".
func (m Measure) String() string {
	switch m {
	case Mul:
		return "mul"
	case Abs:
		return "abs"
	}
	return fmt.Sprintf("Measure(%d)", int(m))
}

// DetectOptions are detect_head's keyword options.
type DetectOptions struct {
	Measure Measure
	// ExcludeBOS leaves out attention to position 0 (TransformerLens:
	// exclude_bos): column 0 of A (and, for Abs, of |A − P|) is zeroed.
	ExcludeBOS bool
	// ExcludeCurrentToken leaves out attention from a position to itself
	// (exclude_current_token): the diagonal is zeroed likewise.
	ExcludeCurrentToken bool
}

// DetectionScore returns how well one head's attention pattern [T, T]
// (post-softmax, rows summing to 1) on one sequence matches a detection
// pattern [T, T], with TransformerLens's
// compute_head_attention_similarity_score semantics (see Measure and
// DetectOptions). Under Mul, a pattern with no attention left after the
// exclusions scores 0 (TransformerLens gives NaN). The error wraps
// mat.ErrShape if the patterns are not both [T, T] with T ≥ 1, and reports
// a detection pattern that is not lower triangular or not finite.
func DetectionScore(pattern, detection *mat.Dense, opt DetectOptions) (float64, error) {
	t, c := pattern.Dims()
	if t != c || t < 1 {
		return 0, fmt.Errorf("circuits: attention pattern is %s, want square: %w", shape(pattern), mat.ErrShape)
	}
	a := make([]float64, t*t)
	for i := range t {
		copy(a[i*t:(i+1)*t], pattern.RawRowView(i))
	}
	p, err := checkDetection(detection, t)
	if err != nil {
		return 0, err
	}
	return detectionScore(a, p, t, opt), nil
}

// checkDetection validates a detection pattern for sequences of length t
// and returns it row-major.
func checkDetection(p *mat.Dense, t int) ([]float64, error) {
	if p == nil {
		return nil, fmt.Errorf("circuits: nil detection pattern: %w", mat.ErrZeroLength)
	}
	if r, c := p.Dims(); r != t || c != t {
		return nil, fmt.Errorf("circuits: detection pattern is %s for a sequence of %d tokens: %w", shape(p), t, mat.ErrShape)
	}
	out := make([]float64, t*t)
	for i := range t {
		row := p.RawRowView(i)
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("circuits: detection pattern[%d][%d] = %v is not finite", i, j, v)
			}
			if j > i && v != 0 {
				return nil, fmt.Errorf("circuits: detection pattern[%d][%d] = %v is above the diagonal: a causal pattern is lower triangular", i, j, v)
			}
		}
		copy(out[i*t:], row)
	}
	return out, nil
}

// detectionScore scores a [t, t] pattern a against p; a is modified.
func detectionScore(a, p []float64, t int, opt DetectOptions) float64 {
	if opt.Measure == Abs {
		for i := range a {
			a[i] = math.Abs(a[i] - p[i])
		}
	}
	if opt.ExcludeBOS {
		for i := range t {
			a[i*t] = 0
		}
	}
	if opt.ExcludeCurrentToken {
		for i := range t {
			a[i*t+i] = 0
		}
	}
	if opt.Measure == Abs {
		var s float64
		for _, v := range a {
			s += v
		}
		return 1 - s/float64(t)
	}
	var num, den float64
	for i, v := range a {
		num += v * p[i]
		den += v
	}
	if den == 0 {
		return 0
	}
	return num / den
}

// Patterns holds the attention patterns of every head of a model on a set
// of token sequences, from one forward pass per batch of equal-length
// sequences. Build it with RunPatterns; it is immutable and safe for
// concurrent use.
type Patterns struct {
	tokens          [][]int
	nLayers, nHeads int
	pat             [][][]float32 // [seq][layer] → [head, T, T]
}

// RunPatterns runs m on tokens and keeps every head's attention pattern
// (hooks.Pattern). Sequences of equal length run as one batch. The error is
// the model's for invalid tokens (empty, too long, out of range), or
// ctx.Err().
func RunPatterns(ctx context.Context, m *transformer.Model, tokens [][]int) (*Patterns, error) {
	if len(tokens) == 0 {
		return nil, fmt.Errorf("circuits: no token sequences")
	}
	c := m.Cfg
	p := &Patterns{tokens: tokens, nLayers: c.NLayers, nHeads: c.NHeads, pat: make([][][]float32, len(tokens))}
	err := runLayers(ctx, m, tokens, hooks.Pattern, func(group []int, batch [][]int, pats []*tensor.Tensor) {
		T := len(batch[0])
		per := c.NHeads * T * T
		for i, s := range group {
			p.pat[s] = make([][]float32, c.NLayers)
			for l, t := range pats { // [batch, head, T, T]
				p.pat[s][l] = t.Data[i*per : (i+1)*per]
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// runLayers runs m on tokens, one batch per sequence length, and calls f
// with each batch's indices into tokens, its sequences, and the activation
// at point(l) for every layer l (copies, which f may keep). The error is
// the model's, wrapped, or ctx.Err().
func runLayers(ctx context.Context, m *transformer.Model, tokens [][]int, point func(l int) hooks.Name,
	f func(group []int, batch [][]int, acts []*tensor.Tensor)) error {
	want := func(n hooks.Name) bool { l := n.Layer(); return l >= 0 && n == point(l) }
	for _, group := range groupByLength(tokens) {
		batch := make([][]int, len(group))
		for i, s := range group {
			batch[i] = tokens[s]
		}
		hs, cache := hooks.Capture(want)
		if _, err := m.Run(ctx, batch, hs); err != nil {
			return fmt.Errorf("circuits: %w", err)
		}
		acts := make([]*tensor.Tensor, m.Cfg.NLayers)
		for l := range acts {
			var err error
			if acts[l], err = cache.Must(point(l)); err != nil {
				return fmt.Errorf("circuits: %w", err)
			}
		}
		f(group, batch, acts)
	}
	return nil
}

// groupByLength returns the indices of tokens grouped by sequence length,
// in order of first appearance.
func groupByLength(tokens [][]int) [][]int {
	at := map[int]int{}
	var groups [][]int
	for i, s := range tokens {
		g, ok := at[len(s)]
		if !ok {
			g = len(groups)
			at[len(s)] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	return groups
}

// Tokens returns the sequences the patterns were computed on (not a copy).
func (p *Patterns) Tokens() [][]int { return p.tokens }

// Pattern returns head (l, h)'s attention pattern on sequence s, [T, T] with
// rows (queries) summing to 1, as a new matrix. The error wraps
// ErrHeadIndex if s, l or h is out of range.
func (p *Patterns) Pattern(s, l, h int) (*mat.Dense, error) {
	if s < 0 || s >= len(p.tokens) || l < 0 || l >= p.nLayers || h < 0 || h >= p.nHeads {
		return nil, fmt.Errorf("circuits: pattern (sequence %d, layer %d, head %d) of %d×%d×%d: %w", s, l, h, len(p.tokens), p.nLayers, p.nHeads, ErrHeadIndex)
	}
	T := len(p.tokens[s])
	return mat.NewDense(T, T, p.head(nil, s, l, h)), nil
}

// head copies head (l, h)'s pattern on sequence s into dst as float64.
func (p *Patterns) head(dst []float64, s, l, h int) []float64 {
	T := len(p.tokens[s])
	dst = grow(dst, T*T)
	for i, v := range p.pat[s][l][h*T*T : (h+1)*T*T] {
		dst[i] = float64(v)
	}
	return dst
}

// Detect returns every head's detection score, [layer][head]: for each
// sequence, DetectionScore of the head's pattern against det(tokens), then
// the mean over sequences — TransformerLens's detect_head on a list of
// sequences. Unlike detect_head, the tokens are used as given (no BOS is
// prepended). The error reports a detection pattern of the wrong shape, not
// lower triangular or not finite, or a sequence shorter than 2 tokens
// (detect_head's limit).
func (p *Patterns) Detect(det DetectionPattern, opt DetectOptions) ([][]float64, error) {
	scores := grid2(p.nLayers, p.nHeads)
	var buf []float64
	for s, toks := range p.tokens {
		T := len(toks)
		if T < 2 {
			return nil, fmt.Errorf("circuits: sequence %d has %d tokens; head detection needs at least 2", s, T)
		}
		want, err := checkDetection(det(toks), T)
		if err != nil {
			return nil, fmt.Errorf("sequence %d: %w", s, err)
		}
		for l := range p.nLayers {
			for h := range p.nHeads {
				buf = p.head(buf, s, l, h)
				scores[l][h] += detectionScore(buf, want, T, opt)
			}
		}
	}
	n := float64(len(p.tokens))
	for l := range scores {
		for h := range scores[l] {
			scores[l][h] /= n
		}
	}
	return scores, nil
}

// DetectHead runs m on tokens and returns every head's detection score
// [layer][head] (RunPatterns, then Patterns.Detect): TransformerLens's
// detect_head(model, seqs, pattern, exclude_bos=…, exclude_current_token=…,
// error_measure=…) on token sequences. To score several patterns, call
// RunPatterns once and Detect for each.
func DetectHead(ctx context.Context, m *transformer.Model, tokens [][]int, det DetectionPattern, opt DetectOptions) ([][]float64, error) {
	p, err := RunPatterns(ctx, m, tokens)
	if err != nil {
		return nil, err
	}
	return p.Detect(det, opt)
}

// grid2 allocates a zeroed [n][m] array with one backing slice.
func grid2(n, m int) [][]float64 {
	flat := make([]float64, n*m)
	g := make([][]float64, n)
	for i := range g {
		g[i], flat = flat[:m:m], flat[m:]
	}
	return g
}
