package data

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// maxInductionL bounds L so that sequence lengths and token counts stay far
// from int32 overflow.
const maxInductionL = 1 << 24

// Induction is the repeated-random-tokens task of "In-context Learning and
// Induction Heads" (Olsson et al., 2022), with a variable repeat length.
//
// Each sequence has SeqLen() = 2L positions, plus one for BOS:
//
//	[BOS] filler(2(L−Ls)) P(Ls) P(Ls)
//
// where Ls is drawn uniformly from [MinRepeat, L] per sequence (Fill) and P
// is a random block of Ls tokens. With T = SeqLen(), the first copy of P
// starts at T−2Ls and the second at T−Ls, with or without BOS. Targets are
// next tokens (Targets[i] = Tokens[i+1]; the last target is 0, unweighted).
//
// The loss mask is exactly the targets an induction circuit can predict:
//
//	Weights[i] = 1  for T−Ls ≤ i ≤ T−2  (Ls−1 positions), else 0.
//
// Position i = T−Ls+k (k ≥ 0) holds P[k], which occurred before at i−Ls; its
// target P[k+1] sits at i−Ls+1, the token after that earlier occurrence. So
// the induction score of a head is its mean attention from i to i−Ls+1 over
// the weighted positions, and Repeat[b] records Ls for that. The first token
// of the second copy is not a weighted target (the position before it, the
// end of the first copy, cannot know the block is about to repeat).
//
// With a fixed repeat length a model can solve the task with a positional
// shortcut (attend to a fixed offset) and score high on induction without a
// previous-token head; varying Ls forces the real circuit.
//
// If Distinct is set, every token of filler and the first P in a sequence is
// distinct (the filler avoids P's tokens too), so each token of the second
// copy has exactly one earlier occurrence and no unweighted target is
// predictable from context. This needs 2L−MinRepeat content tokens. If
// Distinct is not set, all tokens are drawn independently and uniformly.
//
// The zero value is not valid; see Validate. Induction is a plain value and
// safe for concurrent use; the rng and batch passed to Fill are not.
type Induction struct {
	Vocab     int  // d_vocab: token ids are in [0, Vocab)
	L         int  // maximum repeat length; sequences have 2L positions (+1 with BOS)
	MinRepeat int  // Ls is uniform in [MinRepeat, L]
	Distinct  bool // no token repeats within filler+P
	BOS       bool // BOSToken at position 0; content tokens from [1, Vocab)
}

// Validate reports whether the task is well defined: 1 ≤ L, 1 ≤ MinRepeat ≤ L,
// at least two content tokens (Vocab−1 with BOS), and with Distinct at least
// 2L−MinRepeat content tokens.
func (c Induction) Validate() error {
	if c.L < 1 || c.L > maxInductionL {
		return fmt.Errorf("data: induction: L %d out of range [1, %d]", c.L, maxInductionL)
	}
	if c.MinRepeat < 1 || c.MinRepeat > c.L {
		return fmt.Errorf("data: induction: min repeat %d out of range [1, L=%d]", c.MinRepeat, c.L)
	}
	return checkVocab("induction", c.Vocab, c.BOS, c.Distinct, 2*c.L-c.MinRepeat)
}

// checkVocab validates a vocabulary of vocab ids, one of them BOS if bos is
// set, from which a sequence draws need distinct content tokens if distinct
// is set.
func checkVocab(task string, vocab int, bos, distinct bool, need int) error {
	if vocab > math.MaxInt32 {
		return fmt.Errorf("data: %s: vocab %d does not fit int32 token ids", task, vocab)
	}
	content := vocab
	if bos {
		content--
	}
	if content < 2 {
		return fmt.Errorf("data: %s: vocab %d too small: need at least 2 content tokens (bos=%t)", task, vocab, bos)
	}
	if distinct && content < need {
		return fmt.Errorf("data: %s: vocab %d too small for distinct tokens: a sequence needs %d distinct content tokens (bos=%t)",
			task, vocab, need, bos)
	}
	return nil
}

// SeqLen returns the number of positions per sequence: 2L, plus 1 with BOS.
func (c Induction) SeqLen() int {
	return 2*c.L + c.offset()
}

func (c Induction) offset() int {
	if c.BOS {
		return 1
	}
	return 0
}

// Fill overwrites dst with dst.N fresh sequences, each with its own repeat
// length Ls drawn uniformly from [MinRepeat, L] and recorded in dst.Repeat.
// It draws only from rng and never allocates.
//
// Fill panics with the Validate error if c is invalid, and with a ShapeError
// if dst.SeqLen ≠ c.SeqLen() or dst's slices are too short.
func (c Induction) Fill(dst *Batch, rng *rand.Rand) {
	c.check("Induction.Fill", dst)
	span := c.L - c.MinRepeat + 1
	for b := range dst.N {
		c.fillSeq(dst, b, c.MinRepeat+rng.IntN(span), rng)
	}
}

// FillFixed is Fill with Ls = L for every sequence (no filler): the held-out
// evaluation distribution. Panics as Fill.
func (c Induction) FillFixed(dst *Batch, rng *rand.Rand) {
	c.check("Induction.FillFixed", dst)
	for b := range dst.N {
		c.fillSeq(dst, b, c.L, rng)
	}
}

func (c Induction) fillSeq(dst *Batch, b, ls int, rng *rand.Rand) {
	tok, tgt, w := dst.Seq(b)
	n := len(tok)
	if c.BOS {
		tok[0] = BOSToken
	}
	first := tok[c.offset() : n-ls] // filler + first P: 2L−Ls tokens
	c.draw(first, rng)
	copy(tok[n-ls:], first[len(first)-ls:])
	setNextTargets(tgt, tok)
	setWeights(w, n-ls, n-1)
	dst.Repeat[b] = ls
}

// FillProbe overwrites dst with the generalisation probe: a random block Q
// of period p = L/2+1 (distinct tokens if Distinct) tiled over the 2L content
// positions after the optional BOS, so Tokens[i] = Tokens[i−p] for every
// i ≥ off+p, where off is 1 with BOS and 0 without. Targets are next tokens;
// Weights[i] = 1 for off+p ≤ i ≤ T−2 (every position whose token occurred one
// period earlier), and Repeat[b] = p, so the induction score is again the
// attention from i to i−Repeat[b]+1 (or to any earlier period). The block
// repeats about four times, starting far earlier than any training sequence's
// second copy, with an offset p that no fixed-position rule learned from the
// training layout reproduces, so a positional shortcut fails it while an
// induction circuit does not. Panics as Fill.
func (c Induction) FillProbe(dst *Batch, rng *rand.Rand) {
	c.check("Induction.FillProbe", dst)
	p, off := c.ProbePeriod(), c.offset()
	for b := range dst.N {
		tok, tgt, w := dst.Seq(b)
		if c.BOS {
			tok[0] = BOSToken
		}
		c.draw(tok[off:off+p], rng)
		for i := off + p; i < len(tok); i++ {
			tok[i] = tok[i-p]
		}
		setNextTargets(tgt, tok)
		setWeights(w, off+p, len(tok)-1)
		dst.Repeat[b] = p
	}
}

// ProbePeriod returns the period of FillProbe's sequences, L/2+1.
func (c Induction) ProbePeriod() int { return c.L/2 + 1 }

// EvalSet returns a newly allocated held-out evaluation set of n sequences
// filled by FillFixed (Ls = L for all) from a PCG generator seeded with
// (seed, seed). Use a seed the training stream never uses. It returns the
// Validate error if c is invalid, or an error if n < 1.
func (c Induction) EvalSet(n int, seed uint64) (*Batch, error) {
	return c.set(n, seed, c.FillFixed)
}

// ProbeSet is EvalSet for FillProbe: n generalisation-probe sequences.
func (c Induction) ProbeSet(n int, seed uint64) (*Batch, error) {
	return c.set(n, seed, c.FillProbe)
}

func (c Induction) set(n int, seed uint64, fill func(*Batch, *rand.Rand)) (*Batch, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if n < 1 {
		return nil, fmt.Errorf("data: induction: set size %d must be at least 1", n)
	}
	b := NewBatch(n, c.SeqLen())
	fill(b, rand.New(rand.NewPCG(seed, seed)))
	return b, nil
}

func (c Induction) check(op string, dst *Batch) {
	if err := c.Validate(); err != nil {
		panic(err)
	}
	checkBatch(op, dst, c.SeqLen())
}

// draw fills dst with content tokens, distinct if c.Distinct.
func (c Induction) draw(dst []int32, rng *rand.Rand) {
	lo, hi := int32(c.offset()), int32(c.Vocab)
	if c.Distinct {
		drawDistinct(dst, lo, hi, rng)
	} else {
		drawUniform(dst, lo, hi, rng)
	}
}
