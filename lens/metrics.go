package lens

import (
	"context"
	"fmt"
	"math"

	"github.com/mechinterp/workbench/nn"
	"github.com/mechinterp/workbench/tensor"
	"github.com/mechinterp/workbench/transformer"
)

// DefaultTopK is the number of top tokens the CLI and the dashboard ask
// Stats to keep per position unless told otherwise.
const DefaultTopK = 5

// Options are the analysis options of Logit and Tuned.Evaluate. The zero
// value computes the metrics alone.
type Options struct {
	// TopK is the number of most probable tokens kept per position in
	// Stats.Top (at most d_vocab_out); 0 keeps none. Negative is an error.
	TopK int
	// Logits keeps each point's decoded logits in Stats.Logits.
	Logits bool
}

func (o Options) topK(vocab int) int { return min(o.TopK, vocab) }

// TokenProb is a token and the probability a lens gives it.
type TokenProb struct {
	Token int     `json:"token"`
	Prob  float64 `json:"prob"`
}

// Stats are one point's lens metrics on a batch of token sequences.
type Stats struct {
	Label string `json:"label"`
	// Loss is the mean next-token cross-entropy (nats) of the decoded
	// logits over positions 0..T−2 of every sequence, as Model.Loss.
	Loss float64 `json:"loss"`
	// Accuracy is the fraction of those positions whose most probable token
	// (the first on ties) is the next token.
	Accuracy float64 `json:"accuracy"`
	// KLToFinal is the mean over every position 0..T−1 of
	// KL(final ‖ lens) = Σ_v P_final(v)·(log P_final(v) − log P_lens(v)),
	// in nats, where P_final is the model's output distribution.
	KLToFinal float64 `json:"kl_to_final"`
	// Entropy is the mean over every position of the lens distribution's
	// entropy, in nats.
	Entropy float64 `json:"entropy"`
	// Top holds the most probable tokens, [batch][pos][k], most probable
	// first.
	Top [][][]TokenProb `json:"top,omitempty"`
	// Logits are the decoded logits, [batch, pos, d_vocab_out], if
	// Options.Logits was set.
	Logits *tensor.Tensor `json:"-"`
}

// evaluate runs the model once on tokens and computes every point's Stats,
// decoding each residual after tr's translator (nil: the logit lens).
func evaluate(ctx context.Context, m *transformer.Model, tokens [][]int, tr *Tuned, o Options) ([]Stats, error) {
	if o.TopK < 0 {
		return nil, fmt.Errorf("lens: top-k must be ≥ 0, got %d", o.TopK)
	}
	flat, batch, pos, err := m.CheckTokens(tokens)
	if err != nil {
		return nil, fmt.Errorf("lens: %w", err)
	}
	if pos < 2 {
		return nil, fmt.Errorf("lens: need sequences of at least 2 tokens for next-token metrics, got %d", pos)
	}
	targets, weights := transformer.NextTokenTargets(flat, batch, pos)
	for i, t := range targets {
		if weights[i] != 0 && int(t) >= m.Cfg.DVocabOut {
			return nil, fmt.Errorf("lens: target token %d (sequence %d, position %d) is outside the output vocabulary [0, %d)", t, i/pos, i%pos+1, m.Cfg.DVocabOut)
		}
	}
	ws := m.NewWorkspace(batch, pos)
	if err := ws.Forward(ctx, flat, nil); err != nil {
		return nil, err
	}
	views := residViews(m, ws)
	rows, d, V := batch*pos, m.Cfg.DModel, m.Cfg.DVocabOut
	dec := newDecoder(m, rows)
	final := ws.Logits().Data
	sc := statScratch{probsP: make([]float32, rows*V), probsQ: make([]float32, rows*V)}
	var y []float32
	if tr != nil {
		y = make([]float32, rows*d)
	}
	points := Points(m.Cfg)
	out := make([]Stats, len(views))
	for i, x := range views {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		in := x.Data
		if tr != nil {
			tr.apply(y, in, i, rows)
			in = y
		}
		logits := dec.forward(in)
		s := &out[i]
		s.Label = points[i].Label
		sc.fill(s, logits, final, targets, weights, batch, pos, V, o.topK(V))
		if o.Logits {
			s.Logits = tensor.FromSlice(append([]float32(nil), logits...), batch, pos, V)
		}
	}
	return out, nil
}

// statScratch holds the probability buffers of one evaluation.
type statScratch struct {
	probsP, probsQ []float32 // [rows, V]
}

// fill computes s's metrics from a point's logits [rows, V] and the model's
// final logits.
func (sc *statScratch) fill(s *Stats, logits, final []float32, targets []int32, weights []float32, batch, pos, V, k int) {
	rows := batch * pos
	s.KLToFinal = nn.KLForward(sc.probsP, sc.probsQ, final, logits, nil, rows, V)
	s.Loss = nn.CrossEntropyForward(sc.probsQ, logits, targets, weights, rows, V)
	var hits, n, ent float64
	for r := range rows {
		row := logits[r*V : (r+1)*V]
		ent += entropy(row)
		if weights[r] != 0 {
			n++
			if argmax(row) == int(targets[r]) {
				hits++
			}
		}
	}
	s.Accuracy = hits / n
	s.Entropy = ent / float64(rows)
	if k == 0 {
		return
	}
	s.Top = make([][][]TokenProb, batch)
	for b := range batch {
		s.Top[b] = make([][]TokenProb, pos)
		for p := range pos {
			r := b*pos + p
			s.Top[b][p] = topK(sc.probsQ[r*V:(r+1)*V], k)
		}
	}
}

// argmax returns the index of the largest value, the first on ties.
func argmax(x []float32) int {
	best := 0
	for j, v := range x {
		if v > x[best] {
			best = j
		}
	}
	return best
}

// entropy returns the entropy in nats of softmax(logits), computed stably
// in float64.
func entropy(logits []float32) float64 {
	lse := tensor.LogSumExp(logits)
	var h float64
	for _, v := range logits {
		lp := float64(v) - lse
		if p := math.Exp(lp); p != 0 {
			h -= p * lp
		}
	}
	return h
}

// topK returns the k most probable tokens of probs, most probable first
// (lower id first on ties).
func topK(probs []float32, k int) []TokenProb {
	out := make([]TokenProb, 0, k)
	for j, p := range probs {
		if len(out) == k && float64(p) <= out[k-1].Prob {
			continue
		}
		if len(out) < k {
			out = append(out, TokenProb{})
		}
		i := len(out) - 1
		for i > 0 && out[i-1].Prob < float64(p) {
			out[i] = out[i-1]
			i--
		}
		out[i] = TokenProb{Token: j, Prob: float64(p)}
	}
	return out
}
