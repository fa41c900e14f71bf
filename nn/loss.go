package nn

import (
	"iter"
	"math"

	"github.com/mechinterp/workbench/tensor"
)

// CrossEntropyForward computes the softmax cross-entropy of logits [rows, v]
// against targets [rows] (next-token ids), CE_i = logsumexp(logits[i, :]) −
// logits[i, targets[i]], and returns the weighted mean Σ w_i·CE_i / Σ w_i.
// weights [rows] (≥ 0) select and weigh positions; nil means every weight is
// 1, and rows of weight 0 are ignored entirely (their targets are not read,
// so padding may hold any id). If every weight is 0 the loss is 0.
//
// It overwrites probs [rows, v] with softmax(logits) for every row, which
// CrossEntropyBackward needs. The log-sum-exp is taken stably (max
// subtracted) in float64. probs may alias logits. It panics with a
// tensor.ShapeError if a slice is shorter than its shape or a target of
// non-zero weight is outside [0, v).
func CrossEntropyForward(probs, logits []float32, targets []int32, weights []float32, rows, v int) (loss float64) {
	const op = "CrossEntropyForward"
	lenAtLeast(op, "len(logits)", len(logits), rows*v)
	lenAtLeast(op, "len(probs)", len(probs), rows*v)
	checkTargets(op, targets, weights, rows)
	var num, den float64
	for i := range rows {
		li := logits[i*v : (i+1)*v]
		wi, lt := rowWeight(weights, i), 0.0
		if wi != 0 {
			lt = float64(li[targetAt(op, targets, i, v)]) // read before probs may overwrite li
		}
		if v == 0 {
			continue
		}
		m, se := tensor.SoftmaxRow(probs[i*v:(i+1)*v], li)
		if wi == 0 {
			continue // no log for an unweighted row
		}
		lse := float64(m) + math.Log(se) // as softmaxRow
		num += wi * (lse - lt)
		den += wi
	}
	if den == 0 {
		return 0
	}
	return num / den
}

// CrossEntropyBackward accumulates the gradient of scale times the loss of
// CrossEntropyForward into dlogits [rows, v]:
//
//	dlogits[i, :] += scale · w_i / Σ w · (probs[i, :] − onehot(targets[i]))
//
// given the forward's probs [rows, v], targets [rows] and weights [rows] (nil
// = all 1). scale is the gradient of the final objective with respect to the
// loss (1 for plain training). Rows of weight 0 are untouched; if every weight
// is 0 nothing is added. It panics with a tensor.ShapeError if a slice is
// shorter than its shape or a target of non-zero weight is outside [0, v).
func CrossEntropyBackward(dlogits, probs []float32, targets []int32, weights []float32, rows, v int, scale float32) {
	const op = "CrossEntropyBackward"
	lenAtLeast(op, "len(probs)", len(probs), rows*v)
	lenAtLeast(op, "len(dlogits)", len(dlogits), rows*v)
	checkTargets(op, targets, weights, rows)
	for i, c := range weightedRows(weights, rows, scale) {
		t := targetAt(op, targets, i, v)
		tensor.Axpy(float32(c), probs[i*v:(i+1)*v], dlogits[i*v:(i+1)*v])
		dlogits[i*v+t] -= float32(c)
	}
}

// CrossEntropyPerRow writes the cross-entropy of every row, losses[i] =
// logsumexp(logits[i, :]) − logits[i, targets[i]] (computed stably in float64),
// with logits [rows, v], targets [rows] and losses [rows]: TransformerLens's
// per-token loss, for analysis. It panics with a tensor.ShapeError if a slice
// is shorter than its shape or a target is outside [0, v).
func CrossEntropyPerRow(losses, logits []float32, targets []int32, rows, v int) {
	const op = "CrossEntropyPerRow"
	lenAtLeast(op, "len(logits)", len(logits), rows*v)
	lenAtLeast(op, "len(losses)", len(losses), rows)
	checkTargets(op, targets, nil, rows)
	for i := range rows {
		li := logits[i*v : (i+1)*v]
		t := targetAt(op, targets, i, v)
		losses[i] = float32(tensor.LogSumExp(li) - float64(li[t]))
	}
}

// KLForward computes the Kullback–Leibler divergence KL(P‖Q) = Σ_j P_j·(log P_j
// − log Q_j) between the distributions P = softmax(p) and Q = softmax(q) of
// the logits p, q [rows, v], row by row, and returns its weighted mean over
// rows, Σ w_i·KL_i / Σ w_i, with weights [rows] (≥ 0; nil = all 1; rows of
// weight 0 ignored; 0 if every weight is 0). P is the reference (for example
// a clean run) and Q the model being compared or trained, as in
// torch.nn.functional.kl_div(log Q, log P, log_target=True).
//
// It overwrites probsP and probsQ [rows, v] with P and Q, which KLBackward
// needs; they must not alias p or q. Log-probabilities are computed stably
// (log-sum-exp) in float64, so KL(P‖P) is exactly 0 and entries with P_j = 0
// contribute 0. It panics with a tensor.ShapeError if a slice is shorter than
// its shape.
func KLForward(probsP, probsQ, p, q, weights []float32, rows, v int) (kl float64) {
	checkKL("KLForward", probsP, probsQ, p, q, weights, rows, v)
	var num, den float64
	for i := range rows {
		pi, qi := p[i*v:(i+1)*v], q[i*v:(i+1)*v]
		lseP := softmaxRow(probsP[i*v:(i+1)*v], pi)
		lseQ := softmaxRow(probsQ[i*v:(i+1)*v], qi)
		wi := rowWeight(weights, i)
		if wi == 0 {
			continue
		}
		num += wi * klRow(pi, qi, lseP, lseQ)
		den += wi
	}
	if den == 0 {
		return 0
	}
	return num / den
}

// KLBackward accumulates the gradients of scale times the loss of KLForward
// with respect to both logits, given the forward's probsP, probsQ, p, q [rows,
// v] and weights [rows]. With c_i = scale·w_i/Σ w:
//
//	dq[i, :] += c_i·(Q_i − P_i)                            (skipped if dq is nil)
//	dp[i, :] += c_i·P_i⊙(log P_i − log Q_i − KL_i)         (skipped if dp is nil)
//
// dp recomputes log-probabilities from the logits in float64. It panics with a
// tensor.ShapeError if a slice is shorter than its shape.
func KLBackward(dp, dq, probsP, probsQ, p, q, weights []float32, rows, v int, scale float32) {
	checkKL("KLBackward", probsP, probsQ, p, q, weights, rows, v)
	if dp != nil {
		lenAtLeast("KLBackward", "len(dp)", len(dp), rows*v)
	}
	if dq != nil {
		lenAtLeast("KLBackward", "len(dq)", len(dq), rows*v)
	}
	for i, c := range weightedRows(weights, rows, scale) {
		lo, hi := i*v, (i+1)*v
		if dq != nil {
			pp, pq, dqi := probsP[lo:hi], probsQ[lo:hi], dq[lo:hi]
			for j := range dqi {
				dqi[j] += float32(c * (float64(pq[j]) - float64(pp[j])))
			}
		}
		if dp != nil {
			pi, qi, dpi := p[lo:hi], q[lo:hi], dp[lo:hi]
			lseP, lseQ := tensor.LogSumExp(pi), tensor.LogSumExp(qi)
			kli := klRow(pi, qi, lseP, lseQ)
			for j := range dpi {
				lp := float64(pi[j]) - lseP
				if pj := math.Exp(lp); pj != 0 {
					dpi[j] += float32(c * pj * (lp - (float64(qi[j]) - lseQ) - kli))
				}
			}
		}
	}
}

// softmaxRow writes softmax(x) into dst (same length) and returns
// logsumexp(x), with the maximum subtracted; the exponentials are
// tensor.ExpShift's (relative error < 3e-7), summed in float64
// (tensor.SoftmaxRow). A row that is all −Inf gives zeros and −Inf.
func softmaxRow(dst, x []float32) (lse float64) {
	if len(x) == 0 {
		return math.Inf(-1)
	}
	m, s := tensor.SoftmaxRow(dst, x)
	return float64(m) + math.Log(s) // −Inf + log 0 = −Inf for a masked row
}

// klRow returns Σ_j P_j·(log P_j − log Q_j) for logits p, q with log-sum-exps
// lseP, lseQ, skipping entries where P_j underflows to 0.
func klRow(p, q []float32, lseP, lseQ float64) float64 {
	q = q[:len(p)]
	var kl float64
	for j, v := range p {
		lp := float64(v) - lseP
		if pj := math.Exp(lp); pj != 0 {
			kl += pj * (lp - (float64(q[j]) - lseQ))
		}
	}
	return kl
}

// rowWeight returns weights[i], or 1 if weights is nil.
func rowWeight(weights []float32, i int) float64 {
	if weights == nil {
		return 1
	}
	return float64(weights[i])
}

// weightedRows yields every row of non-zero weight with its coefficient in
// the gradient of a weighted mean, scale·w_i/Σ w (nil weights = all 1); it
// yields nothing if every weight is 0.
func weightedRows(weights []float32, rows int, scale float32) iter.Seq2[int, float64] {
	return func(yield func(int, float64) bool) {
		den := weightSum(weights, rows)
		if den == 0 {
			return
		}
		for i := range rows {
			if wi := rowWeight(weights, i); wi != 0 && !yield(i, float64(scale)*wi/den) {
				return
			}
		}
	}
}

// weightSum returns Σ weights[:rows] in float64, or rows if weights is nil.
func weightSum(weights []float32, rows int) float64 {
	if weights == nil {
		return float64(rows)
	}
	return tensor.Sum(weights[:rows])
}

// targetAt returns targets[i] as an index, panicking with a
// tensor.ShapeError if it is outside [0, v).
func targetAt(op string, targets []int32, i, v int) int {
	checkToken(op, targets[i], v)
	return int(targets[i])
}

// checkTargets checks targets and weights (if not nil) against rows.
func checkTargets(op string, targets []int32, weights []float32, rows int) {
	lenAtLeast(op, "len(targets)", len(targets), rows)
	if weights != nil {
		lenAtLeast(op, "len(weights)", len(weights), rows)
	}
}

// checkKL checks the [rows, v] slices of KLForward and KLBackward and weights
// (if not nil).
func checkKL(op string, probsP, probsQ, p, q, weights []float32, rows, v int) {
	n := rows * v
	lenAtLeast(op, "len(p)", len(p), n)
	lenAtLeast(op, "len(q)", len(q), n)
	lenAtLeast(op, "len(probsP)", len(probsP), n)
	lenAtLeast(op, "len(probsQ)", len(probsQ), n)
	if weights != nil {
		lenAtLeast(op, "len(weights)", len(weights), rows)
	}
}
