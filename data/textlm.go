package data

import (
	"fmt"
	"math/rand/v2"
)

// TextLM is next-token prediction on windows of a tokenized corpus: each
// sequence is SeqLen consecutive tokens of Shard starting at a uniformly
// random offset in [Lo, Hi−SeqLen−1], with Targets[i] = the token after
// Tokens[i] (the window reads SeqLen+1 tokens, so every position is scored:
// Weights are all 1).
//
// Repeat mixing: a fraction RepeatFrac of the windows (each independently)
// get a span of Ls tokens, Ls uniform in [MinSpan, MaxSpan],
// copied from a random earlier place in the window to a random later place:
// the window's tokens w[b..b+Ls) are overwritten by w[a..a+Ls) with
// a+Ls ≤ b, and the targets follow the edited window. Copying from context
// then pays, which favours induction heads (see train/lm). Repeat[i] holds
// Ls for an edited window and 0 otherwise.
//
// The zero value is not valid; see Validate. TextLM holds a pointer to its
// read-only Shard and is safe for concurrent use; the rng and batch passed
// to Fill are not.
type TextLM struct {
	Shard      *Shard
	Lo, Hi     int     // the token range windows are drawn from
	SeqLen     int     // positions per sequence
	RepeatFrac float64 // fraction of windows with a repeated span, in [0, 1]
	// MinSpan and MaxSpan bound the repeated span's length: 2 ≤ MinSpan ≤
	// MaxSpan ≤ SeqLen/2 when RepeatFrac > 0.
	MinSpan, MaxSpan int
	// RandomSpans fills a repeated span's source with tokens read at
	// uniformly random places of [Lo, Hi) before it is copied: a random
	// token sequence inserted twice into natural text, so that only copying
	// (not the corpus's n-gram statistics) predicts its second copy.
	RandomSpans bool
}

// Validate reports whether the task is well defined: a shard, 2 ≤ SeqLen,
// a range inside the shard holding at least SeqLen+1 tokens, RepeatFrac in
// [0, 1], and with RepeatFrac > 0 spans in [2, SeqLen/2].
func (c TextLM) Validate() error {
	switch {
	case c.Shard == nil:
		return fmt.Errorf("data: text: no token shard")
	case c.SeqLen < 2:
		return fmt.Errorf("data: text: sequence length %d, want at least 2", c.SeqLen)
	case c.Lo < 0 || c.Hi > c.Shard.Len() || c.Lo > c.Hi:
		return fmt.Errorf("data: text: token range [%d, %d) is not inside the shard's %d tokens", c.Lo, c.Hi, c.Shard.Len())
	case c.Hi-c.Lo < c.SeqLen+1:
		return fmt.Errorf("data: text: %d tokens in range, fewer than a window of %d needs (use a shorter context or more text)", c.Hi-c.Lo, c.SeqLen+1)
	case !(c.RepeatFrac >= 0 && c.RepeatFrac <= 1):
		return fmt.Errorf("data: text: repeat fraction %g is not in [0, 1]", c.RepeatFrac)
	case c.RepeatFrac > 0 && (c.MinSpan < 2 || c.MinSpan > c.MaxSpan || 2*c.MaxSpan > c.SeqLen):
		return fmt.Errorf("data: text: repeated spans of %d to %d tokens do not fit twice in %d (want 2 ≤ min ≤ max ≤ %d)", c.MinSpan, c.MaxSpan, c.SeqLen, c.SeqLen/2)
	}
	return nil
}

// Fill writes dst.N random windows into dst. It panics with the Validate
// error on an invalid task and with a ShapeError if dst's shape does not
// match. It never allocates.
func (c TextLM) Fill(dst *Batch, rng *rand.Rand) {
	if err := c.Validate(); err != nil {
		panic(err)
	}
	checkBatch("TextLM.Fill", dst, c.SeqLen)
	T := c.SeqLen
	span := c.Hi - c.Lo - T // starts in [Lo, Lo+span)
	for s := range dst.N {
		tok, tgt, w := dst.Seq(s)
		start := c.Lo + rng.IntN(span)
		c.Shard.Read(tok, start)
		c.Shard.Read(tgt, start+1)
		for i := range w {
			w[i] = 1
		}
		dst.Repeat[s] = 0
		if c.RepeatFrac > 0 && rng.Float64() < c.RepeatFrac {
			var random func() int32
			if c.RandomSpans {
				random = func() int32 { return c.Shard.At(c.Lo + rng.IntN(c.Hi-c.Lo)) }
			}
			dst.Repeat[s] = repeatSpan(tok, tgt, c.MinSpan, c.MaxSpan, rng, random)
		}
	}
}

// FillAt writes the windows starting at starts[i] (each in [Lo, Hi−SeqLen−1])
// into dst without repeat mixing: held-out evaluation. It panics like Fill,
// and with a ShapeError if len(starts) != dst.N or a start is out of range.
func (c TextLM) FillAt(dst *Batch, starts []int) {
	if err := c.Validate(); err != nil {
		panic(err)
	}
	checkBatch("TextLM.FillAt", dst, c.SeqLen)
	if len(starts) != dst.N {
		panic(ShapeError{Op: "TextLM.FillAt", Msg: fmt.Sprintf("%d starts for %d sequences", len(starts), dst.N)})
	}
	for s, start := range starts {
		if start < c.Lo || start+c.SeqLen+1 > c.Hi {
			panic(ShapeError{Op: "TextLM.FillAt", Msg: fmt.Sprintf("window at %d does not fit in [%d, %d)", start, c.Lo, c.Hi)})
		}
		tok, tgt, w := dst.Seq(s)
		c.Shard.Read(tok, start)
		c.Shard.Read(tgt, start+1)
		for i := range w {
			w[i] = 1
		}
		dst.Repeat[s] = 0
	}
}

// repeatSpan copies a random span of lo to hi tokens of the window (tok
// followed by the last target) to a random later place and returns its
// length Ls. It needs 2·hi ≤ len(tok). With random not nil the source
// span is first overwritten with random()'s tokens.
func repeatSpan(tok, tgt []int32, lo, hi int, rng *rand.Rand, random func() int32) int {
	T := len(tok)
	ls := lo + rng.IntN(hi-lo+1)
	a := rng.IntN(T - 2*ls + 1)        // source [a, a+ls)
	b := a + ls + rng.IntN(T-a-2*ls+1) // destination [b, b+ls), b+ls ≤ T
	if random != nil {
		for k := range ls {
			v := random()
			tok[a+k] = v
			if a+k > 0 {
				tgt[a+k-1] = v
			}
		}
	}
	for k := range ls {
		v := tok[a+k] // a+k < b: not yet overwritten
		tok[b+k] = v
		if b+k > 0 {
			tgt[b+k-1] = v
		}
	}
	return ls
}
