package discover

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/mechinterp/workbench/transformer"
)

// GroundTruth is a model whose circuit is known, with the batches and the
// metric's position weights to find it on.
type GroundTruth struct {
	Model            *transformer.Model
	Clean, Corrupted [][]int
	// Weights [batch][pos] select the positions the circuit predicts.
	Weights [][]float32
	// True names the edges of the circuit under each ablation: an edge
	// whose sender's output is the same on both batches (the positional
	// embedding, under interchange ablation) carries nothing a method
	// could find, so it is in the truth only under zero ablation.
	True map[Ablation][]string
}

// Truth returns the true circuit under ablation a as one bool per edge of
// g.
func (gt *GroundTruth) Truth(g *Graph, a Ablation) ([]bool, error) {
	keep := make([]bool, len(g.Edges))
	for _, name := range gt.True[a] {
		i, err := g.Index(name)
		if err != nil {
			return nil, err
		}
		keep[i] = true
	}
	return keep, nil
}

// The compiled model's dimensions: vocabulary (block tokens 0..9 and BOS
// 10), block length, positions, and the residual stream's five subspaces.
const (
	gtTokens = 10
	gtBOS    = gtTokens
	gtBlock  = 7
	gtCtx    = 16
	gtHead   = 16
	gtJunk   = 10
	gtDModel = (gtTokens + 1) + gtCtx + gtTokens + gtTokens + gtJunk
	gtTok    = 0                    // token one-hot, d_vocab wide
	gtPos    = gtTok + gtTokens + 1 // position one-hot
	gtPrev   = gtPos + gtCtx        // the previous token, written by L0H0
	gtOut    = gtPrev + gtTokens    // the predicted token, written by L1H0, read by W_U
	gtJunkAt = gtOut + gtTokens     // what the distractor heads write
	gtHeads  = 3                    // per layer: the circuit's head, then distractors
	gtAlpha  = 80.0                 // L0H0's query gain: scores of 20 after 1/√d_head
	gtBeta   = 48.0                 // L1H0's query gain: scores of 12
	gtGamma  = 10.0                 // W_U's gain
)

// CompiledInduction returns a two-layer attention-only model whose
// weights are set by hand to implement induction, beside distractor heads
// with random weights of the same norms:
//
//   - the residual stream holds five subspaces: token one-hot, position
//     one-hot, previous token, output token and junk;
//   - L0H0 is a positional previous-token head: its query reads position
//     i, its key position j, scoring j = i − 1; its OV copies the token
//     into the previous-token subspace;
//   - L1H0 is an induction head: its query reads the token, its key the
//     previous-token subspace (K-composition with L0H0), and its OV copies
//     the attended token into the output subspace, which alone W_U reads;
//   - L0H1, L0H2, L1H1, L1H2 read the whole stream with random W_Q, W_K,
//     W_V and write only into the junk subspace, which nothing reads, so
//     their edges have exactly no effect.
//
// The clean batch is BOS then a block of 7 distinct tokens, repeated; the
// corrupted batch is BOS then 14 random tokens. Weights select positions
// 8..13, where the repeat makes the next token predictable.
func CompiledInduction(seed uint64, batch int) (*GroundTruth, error) {
	if batch < 1 {
		return nil, fmt.Errorf("discover: a ground-truth batch of %d sequences", batch)
	}
	c := transformer.Config{NLayers: 2, DModel: gtDModel, NHeads: gtHeads, DHead: gtHead, DVocab: gtTokens + 1,
		NCtx: gtCtx, AttnOnly: true, NormalizationType: transformer.NormNone}
	m, err := transformer.New(c)
	if err != nil {
		return nil, err
	}
	clear(m.P.Data())
	d, H, dh := gtDModel, gtHeads, gtHead
	p := m.P
	for t := range gtTokens + 1 {
		p.WE[t*d+gtTok+t] = 1
	}
	for i := range gtCtx {
		p.WPos[i*d+gtPos+i] = 1
	}
	for t := range gtTokens {
		p.WU[(gtOut+t)*(gtTokens+1)+t] = gtGamma
	}
	// w sets entry (row, head dim) of a [d_model, H·d_head] matrix for head h.
	set := func(w []float32, h, row, col int, v float32) { w[row*H*dh+h*dh+col] = v }
	setO := func(w []float32, h, col, row int, v float32) { w[(h*dh+col)*d+row] = v }
	b0, b1 := &p.Blocks[0], &p.Blocks[1]
	for i := range gtCtx {
		set(b0.WQ, 0, gtPos+i, i, gtAlpha)
		if i+1 < gtHead {
			set(b0.WK, 0, gtPos+i, i+1, 1)
		}
	}
	for t := range gtTokens {
		set(b0.WV, 0, gtTok+t, t, 1)
		setO(b0.WO, 0, t, gtPrev+t, 1)
		set(b1.WQ, 0, gtTok+t, t, gtBeta)
		set(b1.WK, 0, gtPrev+t, t, 1)
		set(b1.WV, 0, gtTok+t, t, 1)
		setO(b1.WO, 0, t, gtOut+t, 1)
	}
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	for _, bp := range []*transformer.BlockParams{b0, b1} {
		for h := 1; h < H; h++ {
			for _, w := range [][]float32{bp.WQ, bp.WK, bp.WV} {
				norm := headNorm(w, 0, d, H, dh)
				randomHead(w, h, d, H, dh, norm, rng)
			}
			// W_O [H·d_head, d_model]: random into the junk columns only,
			// with the norm of the circuit head's W_O.
			var on float64
			for i := range dh * d {
				on += float64(bp.WO[i]) * float64(bp.WO[i])
			}
			var r []float64
			var rn float64
			for range dh * gtJunk {
				v := rng.NormFloat64()
				r, rn = append(r, v), rn+v*v
			}
			k := 0
			for col := range dh {
				for j := range gtJunk {
					setO(bp.WO, h, col, gtJunkAt+j, float32(r[k]*math.Sqrt(on/rn)))
					k++
				}
			}
		}
	}
	gt := &GroundTruth{Model: m, True: map[Ablation][]string{}}
	for range batch {
		block := rng.Perm(gtTokens)[:gtBlock]
		clean := append([]int{gtBOS}, block...)
		clean = append(clean, block...)
		corrupted := []int{gtBOS}
		for range 2 * gtBlock {
			corrupted = append(corrupted, rng.IntN(gtTokens))
		}
		w := make([]float32, len(clean))
		for i := gtBlock + 1; i < 2*gtBlock; i++ {
			w[i] = 1
		}
		gt.Clean, gt.Corrupted, gt.Weights = append(gt.Clean, clean), append(gt.Corrupted, corrupted), append(gt.Weights, w)
	}
	core := []string{"embed->L0H0.v", "embed->L1H0.q", "L0H0->L1H0.k", "embed->L1H0.v", "L1H0->logits"}
	gt.True[Corrupted] = core
	gt.True[Mean] = core
	gt.True[Zero] = append([]string{"pos_embed->L0H0.q", "pos_embed->L0H0.k"}, core...)
	return gt, nil
}

// headNorm returns the Frobenius norm of head h's columns of w [d, H·dh].
func headNorm(w []float32, h, d, H, dh int) float64 {
	var s float64
	for r := range d {
		for _, v := range w[r*H*dh+h*dh:][:dh] {
			s += float64(v) * float64(v)
		}
	}
	return math.Sqrt(s)
}

// randomHead fills head h's columns of w [d, H·dh] with normal values
// scaled to Frobenius norm.
func randomHead(w []float32, h, d, H, dh int, norm float64, rng *rand.Rand) {
	vals := make([]float64, d*dh)
	var s float64
	for i := range vals {
		vals[i] = rng.NormFloat64()
		s += vals[i] * vals[i]
	}
	k := 0
	for r := range d {
		for j := range dh {
			w[r*H*dh+h*dh+j] = float32(vals[k] * norm / math.Sqrt(s))
			k++
		}
	}
}

// GroundTruthMetric returns the KL metric of gt's model on its clean batch
// over the predictable positions.
func GroundTruthMetric(ctx context.Context, gt *GroundTruth) (*KL, error) {
	return NewKL(ctx, gt.Model, gt.Clean, gt.Weights)
}
