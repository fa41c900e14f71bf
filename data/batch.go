package data

import "fmt"

// BOSToken is the token id written at position 0 of every sequence when a
// task's BOS option is set. Random content tokens are then drawn from
// [1, Vocab) so that BOS never appears elsewhere; without BOS they are drawn
// from [0, Vocab).
const BOSToken int32 = 0

// A Batch is a batch of token sequences with their targets and loss mask,
// laid out row-major as [batch, pos] with N rows of SeqLen positions:
//
//	Tokens  [N, SeqLen]  model input
//	Targets [N, SeqLen]  the token the output at each position should predict
//	Weights [N, SeqLen]  loss mask: 1 where the target is scored, else 0
//	Repeat  [N]          task-specific period (the induction task's Ls)
//
// Where a position has no target (for a next-token task, the last position)
// its target is 0, a valid token id, and its weight is 0, so a loss can gather
// logits at every target without bounds checks and multiply by the weight.
//
// A Batch is allocated once by NewBatch and refilled in place by the tasks'
// Fill methods, which never allocate. It is not safe for concurrent
// mutation; distinct batches may be filled by distinct goroutines.
type Batch struct {
	N, SeqLen int
	Tokens    []int32
	Targets   []int32
	Weights   []float32
	Repeat    []int
}

// NewBatch allocates a zeroed batch of n sequences of seqLen positions. It
// panics with a ShapeError if n < 0 or seqLen < 1.
func NewBatch(n, seqLen int) *Batch {
	if n < 0 || seqLen < 1 {
		panic(ShapeError{Op: "NewBatch", Msg: fmt.Sprintf("need n ≥ 0 and seqLen ≥ 1, got n=%d seqLen=%d", n, seqLen)})
	}
	return &Batch{
		N:       n,
		SeqLen:  seqLen,
		Tokens:  make([]int32, n*seqLen),
		Targets: make([]int32, n*seqLen),
		Weights: make([]float32, n*seqLen),
		Repeat:  make([]int, n),
	}
}

// Seq returns views of sequence i's tokens, targets and weights, each of
// length SeqLen (and capacity SeqLen, so appends cannot spill into the next
// sequence). It panics (index out of range) if i is not in [0, N).
func (b *Batch) Seq(i int) (tokens, targets []int32, weights []float32) {
	lo, hi := i*b.SeqLen, (i+1)*b.SeqLen
	return b.Tokens[lo:hi:hi], b.Targets[lo:hi:hi], b.Weights[lo:hi:hi]
}

// Rows returns the batch's input tokens as new [N][SeqLen] int sequences:
// the token type of Workbench's API (transformer.Model.Run, the analysis
// packages, JSON). Batch keeps flat int32 rows because the training hot
// path (transformer.Workspace.Forward) reads them without conversion; Rows
// is the one place a batch crosses to the API's type.
func (b *Batch) Rows() [][]int {
	out := make([][]int, b.N)
	for i := range out {
		tok, _, _ := b.Seq(i)
		out[i] = make([]int, len(tok))
		for p, t := range tok {
			out[i][p] = int(t)
		}
	}
	return out
}

// ShapeError is the panic value for programmer errors in this package: a
// batch whose shape does not match the task filling it, or a destination
// slice that is too short.
type ShapeError struct {
	Op  string
	Msg string
}

func (e ShapeError) Error() string { return "data: " + e.Op + ": " + e.Msg }

// checkBatch panics with a ShapeError unless dst is a well-formed batch of
// sequences of seqLen positions.
func checkBatch(op string, dst *Batch, seqLen int) {
	switch {
	case dst == nil:
		panic(ShapeError{Op: op, Msg: "nil batch"})
	case dst.SeqLen != seqLen:
		panic(ShapeError{Op: op, Msg: fmt.Sprintf("batch has %d positions, task needs %d", dst.SeqLen, seqLen)})
	case dst.N < 0, len(dst.Tokens) < dst.N*seqLen, len(dst.Targets) < dst.N*seqLen,
		len(dst.Weights) < dst.N*seqLen, len(dst.Repeat) < dst.N:
		panic(ShapeError{Op: op, Msg: fmt.Sprintf("batch slices too short for %d×%d", dst.N, seqLen)})
	}
}

// setNextTargets sets tgt[i] = tok[i+1], the next token, and the last target,
// which has no next token, to 0.
func setNextTargets(tgt, tok []int32) {
	n := len(tok)
	copy(tgt[:n-1], tok[1:])
	tgt[n-1] = 0
}

// setWeights sets w[i] = 1 for lo ≤ i < hi and 0 elsewhere.
func setWeights(w []float32, lo, hi int) {
	for i := range w {
		if i >= lo && i < hi {
			w[i] = 1
		} else {
			w[i] = 0
		}
	}
}
