package circuits

import (
	"context"
	"fmt"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
	"github.com/mechinterp/workbench/transformer"
)

// Olsson et al. (2022)'s head-activation evaluators run on a prefix (BOS)
// followed by olssonLen random tokens repeated olssonRepeats times.
const (
	olssonLen     = 25
	olssonRepeats = 4
)

// RepeatedTokens returns n sequences, each prefix followed by repeats
// copies of one block of length distinct random tokens drawn from
// [0, dVocab) without the prefix's tokens: Olsson et al. (2022)'s input for
// prefix-matching and copying scores (25 tokens, 4 repeats, after BOS). The
// sequences are new; prefix is copied. It returns an error if n, length or
// repeats is not positive or the vocabulary has fewer than length tokens
// outside the prefix.
func RepeatedTokens(rng *rand.Rand, n, length, repeats, dVocab int, prefix []int) ([][]int, error) {
	if n < 1 || length < 1 || repeats < 1 {
		return nil, fmt.Errorf("circuits: repeated tokens: %d sequences of %d tokens × %d must be positive", n, length, repeats)
	}
	banned := map[int]bool{}
	for _, t := range prefix {
		banned[t] = true
	}
	var pool []int
	for t := range dVocab {
		if !banned[t] {
			pool = append(pool, t)
		}
	}
	if len(pool) < length {
		return nil, fmt.Errorf("circuits: repeated tokens: %d distinct tokens wanted, the vocabulary has %d outside the prefix", length, len(pool))
	}
	seqs := make([][]int, n)
	for i := range seqs {
		// A partial Fisher–Yates shuffle draws length distinct tokens.
		for j := range length {
			k := j + rng.IntN(len(pool)-j)
			pool[j], pool[k] = pool[k], pool[j]
		}
		s := make([]int, 0, len(prefix)+length*repeats)
		s = append(s, prefix...)
		for range repeats {
			s = append(s, pool[:length]...)
		}
		seqs[i] = s
	}
	return seqs, nil
}

// OlssonTokens returns n RepeatedTokens sequences shaped as in Olsson et al.
// (2022) — prefix (their BOS; may be empty), then 25 random tokens repeated
// 4 times — for m: the block shrinks to (n_ctx − len(prefix))/4 tokens when
// the whole does not fit in n_ctx (the toy models have n_ctx 40: blocks of
// 10), and to the number of tokens available. It returns an error if fewer
// than 3 tokens per block fit: with blocks of 2, the token after the
// previous occurrence is the previous token, and induction heads cannot be
// told from previous-token heads.
func OlssonTokens(rng *rand.Rand, m *transformer.Model, n int, prefix []int) ([][]int, error) {
	length := min(olssonLen, (m.Cfg.NCtx-len(prefix))/olssonRepeats, m.Cfg.DVocab-len(prefix))
	if length < 3 {
		return nil, fmt.Errorf("circuits: n_ctx %d and d_vocab %d leave room for %d tokens per block after a prefix of %d; want at least 3",
			m.Cfg.NCtx, m.Cfg.DVocab, length, len(prefix))
	}
	return RepeatedTokens(rng, n, length, olssonRepeats, m.Cfg.DVocab, prefix)
}

// PrefixMatching returns every head's prefix-matching score, [layer][head],
// after Olsson et al. (2022): over every query position whose token occurred
// earlier in its sequence, the attention it pays to the positions just after
// those earlier occurrences (the induction targets, InductionPattern's
// row), averaged over such positions of all sequences. On OlssonTokens this
// is the mean attention from a token in repeats 2–4 to the tokens that
// followed it in the earlier repeats. An induction head scores near 1; a
// head attending uniformly scores about the number of targets over the
// position. Unlike Detect with InductionPattern and Mul, positions without
// an earlier occurrence do not dilute the score. It returns an error if no
// position has an earlier occurrence.
func (p *Patterns) PrefixMatching() ([][]float64, error) {
	scores := grid2(p.nLayers, p.nHeads)
	rows := 0
	var buf []float64
	for s, toks := range p.tokens {
		T := len(toks)
		ind := InductionPattern(toks).RawMatrix().Data
		var active []int // query positions with an earlier occurrence
		for i := range T {
			for j := 0; j <= i; j++ {
				if ind[i*T+j] != 0 {
					active = append(active, i)
					break
				}
			}
		}
		rows += len(active)
		for l := range p.nLayers {
			for h := range p.nHeads {
				buf = p.head(buf, s, l, h)
				for _, i := range active {
					for j := 0; j <= i; j++ {
						scores[l][h] += buf[i*T+j] * ind[i*T+j]
					}
				}
			}
		}
	}
	if rows == 0 {
		return nil, fmt.Errorf("circuits: prefix matching: no token repeats in the %d sequences", len(p.tokens))
	}
	for l := range scores {
		for h := range scores[l] {
			scores[l][h] /= float64(rows)
		}
	}
	return scores, nil
}

// CopyingScores returns every head's copying score, [layer][head], after
// Olsson et al. (2022)'s copying evaluator ("the head's OV circuit raises the
// logit of the token it attends to"), defined here as: for every position p
// ≥ skip of every sequence, take the head's value there without its bias,
// v_p − b_V (hook_v: the head's actual input through W_V, LayerNorm
// included), and its direct effect on the logits if the head attended only
// to p, Δ = (v_p − b_V)·W_O·W_U [d_vocab_out]; the position counts as copied
// when Δ raises p's own token above the mean logit, Δ[t_p] > mean_j Δ[j]
// (a softmax ignores a shift common to all logits). The score is the
// fraction of positions copied: 1 for a copying head, 0 for an
// anti-copying one, about ½ for a head whose output is unrelated to its
// input. ln_final is not applied (fold it into W_U first to include its
// gain). Use skip to leave out a BOS prefix; tokens outside the output
// vocabulary are not counted.
//
// It costs one forward pass and O(positions·d_head) per head, plus
// d_head·d_model per distinct token. The error is the model's for invalid
// tokens, or reports that no position was counted, or is ctx.Err().
func CopyingScores(ctx context.Context, m *transformer.Model, tokens [][]int, skip int) ([][]float64, error) {
	c := m.Cfg
	wU := dense64(m.Unembed()) // [d_model, d_vocab_out]
	meanU := make([]float64, c.DModel)
	for i := range c.DModel {
		meanU[i] = mat.Sum(wU.RowView(i)) / float64(c.DVocabOut)
	}
	used := map[int]bool{}
	for _, s := range tokens {
		for p, t := range s {
			if p >= skip && t >= 0 && t < c.DVocabOut {
				used[t] = true
			}
		}
	}
	// centred[t] = W_U[:, t] − mean_j W_U[:, j] [d_model], per used token.
	centred := map[int]*mat.VecDense{}
	for t := range used {
		v := mat.NewVecDense(c.DModel, nil)
		for i := range c.DModel {
			v.SetVec(i, wU.At(i, t)-meanU[i])
		}
		centred[t] = v
	}
	// ou[l][h][t] = W_O·centred[t] [d_head]: Δ[t] − mean Δ = (v − b_V)·ou[t].
	ou := make([][]map[int]*mat.VecDense, c.NLayers)
	bv := make([][][]float32, c.NLayers)
	for l := range ou {
		ou[l], bv[l] = make([]map[int]*mat.VecDense, c.NHeads), make([][]float32, c.NHeads)
		for h := range ou[l] {
			hw := m.Head(l, h)
			wO := dense64(hw.WO) // [d_head, d_model]
			ou[l][h], bv[l][h] = map[int]*mat.VecDense{}, hw.BV.Data
			for t, u := range centred {
				var x mat.VecDense
				x.MulVec(wO, u)
				ou[l][h][t] = &x
			}
		}
	}
	scores := grid2(c.NLayers, c.NHeads)
	counted := 0
	skip = max(skip, 0)
	err := runLayers(ctx, m, tokens, hooks.V, func(_ []int, batch [][]int, vs []*tensor.Tensor) {
		T := len(batch[0])
		for b, seq := range batch {
			for p := skip; p < T; p++ {
				if !used[seq[p]] {
					continue
				}
				counted++
				for l, v := range vs { // [batch, pos, head, d_head]
					for h := range c.NHeads {
						x := ou[l][h][seq[p]]
						// hook_v has n_key_value_heads heads; query head h reads its group's.
						kv := c.NKeyValueHeads
						off := ((b*T+p)*kv + h/(c.NHeads/kv)) * c.DHead
						var d float64
						for k := range c.DHead {
							d += (float64(v.Data[off+k]) - float64(bv[l][h][k])) * x.AtVec(k)
						}
						if d > 0 {
							scores[l][h]++
						}
					}
				}
			}
		}
	})
	if err != nil {
		return nil, err
	}
	if counted == 0 {
		return nil, fmt.Errorf("circuits: copying score: no position at or after %d holds a token of the output vocabulary", skip)
	}
	for l := range scores {
		for h := range scores[l] {
			scores[l][h] /= float64(counted)
		}
	}
	return scores, nil
}
