package discover

import (
	"context"
	"fmt"
	"math"

	"github.com/mechinterp/workbench/patching"
	"github.com/mechinterp/workbench/tensor"
	"github.com/mechinterp/workbench/transformer"
)

// KL is the mean Kullback–Leibler divergence KL(P_ref ‖ P) of a run's
// next-token distributions P from the reference distributions P_ref of the
// full model on the clean batch, over the positions Weights selects: ACDC's
// metric (Conmy et al. 2023). It is 0 for the full circuit and grows as a
// circuit loses the model's behaviour.
type KL struct {
	// logRef are the reference log-probabilities [batch·pos, vocab].
	logRef        []float64
	batch, pos, v int
	// Weights [batch][pos] weighs each position (nil: every position).
	Weights [][]float32
}

// NewKL returns the KL metric to m's output on tokens, weighing the
// positions by weights ([batch][pos], nil for every position).
func NewKL(ctx context.Context, m *transformer.Model, tokens [][]int, weights [][]float32) (*KL, error) {
	logits, err := m.Run(ctx, tokens, nil)
	if err != nil {
		return nil, fmt.Errorf("discover: %w", err)
	}
	k := &KL{batch: logits.Shape[0], pos: logits.Shape[1], v: logits.Shape[2], Weights: weights}
	if err := checkWeights(weights, k.batch, k.pos); err != nil {
		return nil, err
	}
	k.logRef = make([]float64, len(logits.Data))
	for r := range k.batch * k.pos {
		logSoftmax(k.logRef[r*k.v:(r+1)*k.v], logits.Data[r*k.v:(r+1)*k.v])
	}
	return k, nil
}

func (k *KL) String() string { return "kl" }

// Check implements patching.Metric.
func (k *KL) Check(batch, pos, vocab int) error {
	if batch != k.batch || pos != k.pos || vocab != k.v {
		return fmt.Errorf("discover: KL's reference is %d×%d×%d logits, not %d×%d×%d", k.batch, k.pos, k.v, batch, pos, vocab)
	}
	return nil
}

// Value implements patching.Metric.
func (k *KL) Value(logits *tensor.Tensor) float64 { return k.eval(nil, logits) }

// Grad implements patching.Metric: ∂KL/∂logits = (P − P_ref)·w / Σw.
func (k *KL) Grad(dst []float32, logits *tensor.Tensor) float64 { return k.eval(dst, logits) }

func (k *KL) eval(dst []float32, logits *tensor.Tensor) float64 {
	lp := make([]float64, k.v)
	var sum, wsum float64
	for r := range k.batch * k.pos {
		w := weight(k.Weights, r/k.pos, r%k.pos)
		row := logits.Data[r*k.v : (r+1)*k.v]
		if dst != nil {
			clear(dst[r*k.v : (r+1)*k.v])
		}
		if w == 0 {
			continue
		}
		logSoftmax(lp, row)
		ref := k.logRef[r*k.v : (r+1)*k.v]
		var kl float64
		for i, l := range ref {
			kl += math.Exp(l) * (l - lp[i])
		}
		sum += w * kl
		wsum += w
	}
	if wsum == 0 {
		return 0
	}
	if dst != nil {
		for r := range k.batch * k.pos {
			w := weight(k.Weights, r/k.pos, r%k.pos)
			if w == 0 {
				continue
			}
			logSoftmax(lp, logits.Data[r*k.v:(r+1)*k.v])
			ref := k.logRef[r*k.v : (r+1)*k.v]
			for i := range lp {
				dst[r*k.v+i] = float32(w / wsum * (math.Exp(lp[i]) - math.Exp(ref[i])))
			}
		}
	}
	return sum / wsum
}

// LossOn returns the patching package's next-token loss restricted to the
// positions whose weight ([batch][pos]) is positive: position p predicts
// token p+1, and the last position never counts.
func LossOn(tokens [][]int, weights [][]float32) patching.Loss {
	targets := patching.NextTokenTargets(tokens, 0)
	for b := range targets {
		for p := range targets[b] {
			if weights != nil && weights[b][p] <= 0 {
				targets[b][p] = -1
			}
		}
	}
	return patching.Loss{Targets: targets}
}

var _ patching.Metric = (*KL)(nil)

func weight(w [][]float32, b, p int) float64 {
	if w == nil {
		return 1
	}
	return float64(w[b][p])
}

func checkWeights(w [][]float32, batch, pos int) error {
	if w == nil {
		return nil
	}
	if len(w) != batch {
		return fmt.Errorf("discover: position weights for %d sequences, %d expected", len(w), batch)
	}
	for _, row := range w {
		if len(row) != pos {
			return fmt.Errorf("discover: position weights for %d positions, %d expected", len(row), pos)
		}
		for _, x := range row {
			if x < 0 || math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return fmt.Errorf("discover: position weight %g: weights are finite and non-negative", x)
			}
		}
	}
	return nil
}

// logSoftmax writes log softmax(x) into dst in float64.
func logSoftmax(dst []float64, x []float32) {
	mx := math.Inf(-1)
	for _, v := range x {
		mx = max(mx, float64(v))
	}
	var s float64
	for _, v := range x {
		s += math.Exp(float64(v) - mx)
	}
	lse := mx + math.Log(s)
	for i, v := range x {
		dst[i] = float64(v) - lse
	}
}
