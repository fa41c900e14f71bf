package data

import (
	"fmt"
	"math/rand/v2"
)

// PrevToken is the previous-token task: the output at position i should be
// the input token at position i−1, the job of a previous-token head.
//
// Tokens are uniform random content tokens (after BOSToken at position 0 if
// BOS is set). With off = 1 with BOS and 0 without:
//
//	Targets[i] = Tokens[i−1] for i ≥ 1; Targets[0] = 0
//	Weights[i] = 1 for off+1 ≤ i ≤ SeqLen−1 (targets that are content tokens)
//
// Repeat is set to 0. PrevToken is a plain value, safe for concurrent use.
type PrevToken struct {
	Vocab  int  // d_vocab: token ids are in [0, Vocab)
	SeqLen int  // positions per sequence, BOS included
	BOS    bool // BOSToken at position 0; content tokens from [1, Vocab)
}

// Validate reports whether the task is well defined: at least two content
// tokens and room for one weighted target (SeqLen ≥ 2, 3 with BOS).
func (c PrevToken) Validate() error { return c.lag().validate() }

// Fill overwrites dst with dst.N fresh sequences, drawing only from rng and
// never allocating. It panics with the Validate error if c is invalid, and
// with a ShapeError if dst.SeqLen ≠ c.SeqLen.
func (c PrevToken) Fill(dst *Batch, rng *rand.Rand) { c.lag().fill("PrevToken.Fill", dst, rng) }

func (c PrevToken) lag() lagTask {
	return lagTask{name: "previous-token", vocab: c.Vocab, seqLen: c.SeqLen, bos: c.BOS, lag: 1}
}

// Copy is the copying task: the output at position i should be the input
// token at position i itself. With off = 1 with BOS and 0 without:
//
//	Targets[i] = Tokens[i]
//	Weights[i] = 1 for off ≤ i ≤ SeqLen−1 (every content token)
//
// Repeat is set to 0. Copy is a plain value, safe for concurrent use.
type Copy struct {
	Vocab  int  // d_vocab: token ids are in [0, Vocab)
	SeqLen int  // positions per sequence, BOS included
	BOS    bool // BOSToken at position 0; content tokens from [1, Vocab)
}

// Validate reports whether the task is well defined: at least two content
// tokens and one content position (SeqLen ≥ 1, 2 with BOS).
func (c Copy) Validate() error { return c.lag().validate() }

// Fill overwrites dst with dst.N fresh sequences; see PrevToken.Fill.
func (c Copy) Fill(dst *Batch, rng *rand.Rand) { c.lag().fill("Copy.Fill", dst, rng) }

func (c Copy) lag() lagTask {
	return lagTask{name: "copy", vocab: c.Vocab, seqLen: c.SeqLen, bos: c.BOS, lag: 0}
}

// lagTask is a random sequence whose target at position i is the token at
// i−lag.
type lagTask struct {
	name   string
	vocab  int
	seqLen int
	bos    bool
	lag    int
}

func (t lagTask) offset() int {
	if t.bos {
		return 1
	}
	return 0
}

func (t lagTask) validate() error {
	if need := t.offset() + t.lag + 1; t.seqLen < need {
		return fmt.Errorf("data: %s: seq len %d too short: need at least %d (bos=%t)", t.name, t.seqLen, need, t.bos)
	}
	return checkVocab(t.name, t.vocab, t.bos, false, 0)
}

func (t lagTask) fill(op string, dst *Batch, rng *rand.Rand) {
	if err := t.validate(); err != nil {
		panic(err)
	}
	checkBatch(op, dst, t.seqLen)
	off := t.offset()
	for b := range dst.N {
		tok, tgt, w := dst.Seq(b)
		if t.bos {
			tok[0] = BOSToken
		}
		drawUniform(tok[off:], int32(off), int32(t.vocab), rng)
		clear(tgt[:t.lag])
		copy(tgt[t.lag:], tok)
		setWeights(w, off+t.lag, len(tok))
		dst.Repeat[b] = 0
	}
}
