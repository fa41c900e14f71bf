package web

import (
	"math"

	"github.com/mechinterp/workbench/lens"
)

// maxPositionLogits bounds the decoded logits (points × rows × d_vocab_out
// float32s, 64 MB) a lens request keeps to compute per-position metrics;
// beyond it (real models' vocabularies on long sequences) the response
// carries the means only.
const maxPositionLogits = 1 << 24

// keepLogits reports whether the per-position metrics of a lens on rows
// positions of m fit maxPositionLogits.
func keepLogits(m *model, rows int) bool {
	return len(lens.Points(m.m.Cfg))*rows*m.m.Cfg.DVocabOut <= maxPositionLogits
}

// positionStats are a lens's next-token metrics by position, [point][pos]
// for positions 0..T−2 (the last has no next token), each the mean over
// the sequences, and per point over a stated set of positions:
// Predictable, the positions whose next token the task makes predictable
// (data.RepeatedPositions on a single input; the task's weighted targets
// on held-out sequences), and All (every position, as lensStats.Loss).
type positionStats struct {
	Loss     [][]float64  `json:"loss"`
	Accuracy [][]float64  `json:"accuracy"`
	All      positionMean `json:"all"`
	// Predictable is nil when no position is predictable.
	Predictable *positionMean `json:"predictable,omitempty"`
}

// positionMean is loss and accuracy per point over a set of N positions
// (counted over every sequence).
type positionMean struct {
	N        int       `json:"n"`
	Loss     []float64 `json:"loss"`
	Accuracy []float64 `json:"accuracy"`
}

// positionMetrics computes positionStats from each point's decoded logits
// st[i].Logits [batch, pos, V] on tokens [batch][pos]; predictable(b, p)
// says whether position p of sequence b is in the predictable set. Losses
// are computed in float64: log Σ exp(z − max) − (z_target − max).
func positionMetrics(st []lens.Stats, tokens [][]int, predictable func(b, p int) bool) *positionStats {
	batch, pos := len(tokens), len(tokens[0])
	out := &positionStats{}
	var pred positionMean
	for _, s := range st {
		V := s.Logits.Shape[2]
		z := s.Logits.Data
		loss, acc := make([]float64, pos-1), make([]float64, pos-1)
		var all, some [2]float64 // loss and hits summed over every position, over the predictable ones
		nPred := 0
		for b := range batch {
			for p := range pos - 1 {
				row := z[(b*pos+p)*V : (b*pos+p+1)*V]
				target := tokens[b][p+1]
				best, arg := math.Inf(-1), 0
				for v, x := range row {
					if float64(x) > best {
						best, arg = float64(x), v
					}
				}
				var sum float64
				for _, x := range row {
					sum += math.Exp(float64(x) - best)
				}
				l := math.Log(sum) - (float64(row[target]) - best)
				hit := 0.0
				if arg == target {
					hit = 1
				}
				loss[p] += l / float64(batch)
				acc[p] += hit / float64(batch)
				all[0] += l
				all[1] += hit
				if predictable(b, p) {
					some[0] += l
					some[1] += hit
					nPred++
				}
			}
		}
		n := float64(batch * (pos - 1))
		out.Loss = append(out.Loss, loss)
		out.Accuracy = append(out.Accuracy, acc)
		out.All.N = batch * (pos - 1)
		out.All.Loss = append(out.All.Loss, all[0]/n)
		out.All.Accuracy = append(out.All.Accuracy, all[1]/n)
		pred.N = nPred
		if nPred > 0 {
			pred.Loss = append(pred.Loss, some[0]/float64(nPred))
			pred.Accuracy = append(pred.Accuracy, some[1]/float64(nPred))
		}
	}
	if pred.N > 0 {
		out.Predictable = &pred
	}
	return out
}
