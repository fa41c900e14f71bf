package patching

import (
	"fmt"
	"math"

	"github.com/mechinterp/workbench/tensor"
)

// Metric scores one forward pass from its logits, [batch, pos, d_vocab_out].
// Activation patching reports a Metric's value after each patch; attribution
// patching back-propagates its gradient with respect to the logits.
//
// Implementations must be safe for concurrent use (sweeps call Value from
// several goroutines) and must not keep or edit logits.
type Metric interface {
	// String names the metric in reports ("logit-diff", "loss", "prob").
	String() string
	// Check reports, as an error, whether the metric can score logits of
	// shape [batch, pos, vocab]: answer ids in range, positions present.
	Check(batch, pos, vocab int) error
	// Value returns the metric of logits. It may panic if Check would
	// reject the logits' shape (a programming error: New checks it).
	Value(logits *tensor.Tensor) float64
	// Grad overwrites dst (len(logits.Data) values) with the gradient of
	// Value with respect to the logits and returns Value.
	Grad(dst []float32, logits *tensor.Tensor) float64
}

// Last is the position -1: metrics read the last position of each sequence.
// Negative positions count from the end, as in Python.
const Last = -1

// LogitDiff is the logit of the answer token minus the logit of the wrong
// token at one position, averaged over the batch: the usual metric of the
// IOI and induction analyses (Wang et al. 2022). It is linear in the logits,
// so attribution patching is exact for an activation the logits depend on
// linearly.
type LogitDiff struct {
	// Answer and Wrong hold one token id per sequence, or a single id for
	// every sequence.
	Answer, Wrong []int
	// Pos is the position read; negative values count from the end (Last).
	Pos int
}

func (m LogitDiff) String() string { return "logit-diff" }

// Check implements Metric.
func (m LogitDiff) Check(batch, pos, vocab int) error {
	if err := checkIDs("answer", m.Answer, batch, vocab); err != nil {
		return err
	}
	if err := checkIDs("wrong", m.Wrong, batch, vocab); err != nil {
		return err
	}
	_, err := checkPos(m.Pos, pos)
	return err
}

// Value implements Metric.
func (m LogitDiff) Value(logits *tensor.Tensor) float64 {
	B, P, V := dims(logits)
	p := wrapPos(m.Pos, P)
	var s float64
	for b := 0; b < B; b++ {
		row := logits.Data[(b*P+p)*V:][:V]
		s += float64(row[pick(m.Answer, b)]) - float64(row[pick(m.Wrong, b)])
	}
	return s / float64(B)
}

// Grad implements Metric.
func (m LogitDiff) Grad(dst []float32, logits *tensor.Tensor) float64 {
	B, P, V := dims(logits)
	p := wrapPos(m.Pos, P)
	clear(dst[:len(logits.Data)])
	w := float32(1 / float64(B))
	for b := 0; b < B; b++ {
		row := dst[(b*P+p)*V:][:V]
		row[pick(m.Answer, b)] += w
		row[pick(m.Wrong, b)] -= w
	}
	return m.Value(logits)
}

// Prob is the softmax probability of the answer token at one position,
// averaged over the batch.
type Prob struct {
	// Answer holds one token id per sequence, or a single id for all.
	Answer []int
	// Pos is the position read; negative values count from the end (Last).
	Pos int
}

func (m Prob) String() string { return "prob" }

// Check implements Metric.
func (m Prob) Check(batch, pos, vocab int) error {
	if err := checkIDs("answer", m.Answer, batch, vocab); err != nil {
		return err
	}
	_, err := checkPos(m.Pos, pos)
	return err
}

// Value implements Metric.
func (m Prob) Value(logits *tensor.Tensor) float64 { return m.eval(nil, logits) }

// Grad implements Metric: d p_a / d z_j = p_a (δ_aj − p_j), divided by batch.
func (m Prob) Grad(dst []float32, logits *tensor.Tensor) float64 {
	clear(dst[:len(logits.Data)])
	return m.eval(dst, logits)
}

func (m Prob) eval(dst []float32, logits *tensor.Tensor) float64 {
	B, P, V := dims(logits)
	p := wrapPos(m.Pos, P)
	probs := make([]float64, V)
	var s float64
	for b := 0; b < B; b++ {
		off := (b*P + p) * V
		softmax64(probs, logits.Data[off:off+V])
		a := pick(m.Answer, b)
		s += probs[a]
		if dst != nil {
			for j, pj := range probs {
				g := -probs[a] * pj
				if j == a {
					g += probs[a]
				}
				dst[off+j] = float32(g / float64(B))
			}
		}
	}
	return s / float64(B)
}

// Loss is the mean cross-entropy −log softmax(logits[b, p])[t] over every
// (b, p) whose target t = Targets[b][p] is not negative. NextTokenTargets
// builds the usual next-token targets; a single answer at one position is
// Targets with one non-negative entry per sequence.
type Loss struct {
	// Targets is [batch][pos]; negative entries are ignored.
	Targets [][]int
}

func (m Loss) String() string { return "loss" }

// Check implements Metric.
func (m Loss) Check(batch, pos, vocab int) error {
	if len(m.Targets) != batch {
		return fmt.Errorf("patching: loss has targets for %d sequences, the batch has %d", len(m.Targets), batch)
	}
	n := 0
	for b, row := range m.Targets {
		if len(row) != pos {
			return fmt.Errorf("patching: loss targets for sequence %d have %d positions, want %d", b, len(row), pos)
		}
		for p, t := range row {
			if t >= vocab {
				return fmt.Errorf("patching: loss target %d (sequence %d, position %d) outside the output vocabulary [0, %d)", t, b, p, vocab)
			}
			if t >= 0 {
				n++
			}
		}
	}
	if n == 0 {
		return fmt.Errorf("patching: loss has no targets (every entry is negative)")
	}
	return nil
}

// Value implements Metric.
func (m Loss) Value(logits *tensor.Tensor) float64 { return m.eval(nil, logits) }

// Grad implements Metric: (softmax − onehot(t)) / count at each target.
func (m Loss) Grad(dst []float32, logits *tensor.Tensor) float64 {
	clear(dst[:len(logits.Data)])
	return m.eval(dst, logits)
}

func (m Loss) eval(dst []float32, logits *tensor.Tensor) float64 {
	B, P, V := dims(logits)
	if len(m.Targets) != B {
		panic(tensor.ShapeError{Op: "Loss", Msg: fmt.Sprintf("%d target rows for a batch of %d", len(m.Targets), B)})
	}
	probs := make([]float64, V)
	var s float64
	n := 0
	for b := 0; b < B; b++ {
		for p := 0; p < P; p++ {
			if m.Targets[b][p] >= 0 {
				n++
			}
		}
	}
	for b := 0; b < B; b++ {
		for p, t := range m.Targets[b][:P] {
			if t < 0 {
				continue
			}
			off := (b*P + p) * V
			lse := softmax64(probs, logits.Data[off:off+V])
			s += lse - float64(logits.Data[off+t])
			if dst != nil {
				for j, pj := range probs {
					if j == t {
						pj--
					}
					dst[off+j] = float32(pj / float64(n))
				}
			}
		}
	}
	return s / float64(n)
}

// NextTokenTargets returns Loss targets for next-token prediction on
// tokens: Targets[b][p] = tokens[b][p+1] for from ≤ p < pos−1, and −1
// elsewhere. from = 0 scores every position, as transformer.Model.Loss does;
// a larger from scores only a later part, such as the repeated half of an
// induction sequence.
func NextTokenTargets(tokens [][]int, from int) [][]int {
	out := make([][]int, len(tokens))
	for b, seq := range tokens {
		out[b] = make([]int, len(seq))
		for p := range seq {
			out[b][p] = -1
			if p >= from && p+1 < len(seq) {
				out[b][p] = seq[p+1]
			}
		}
	}
	return out
}

// Normalize maps a metric value v to (v − corrupted)/(clean − corrupted), so
// that the clean run scores 1 and the corrupted run 0. It returns an error
// if clean and corrupted are equal (nothing to restore).
func Normalize(v, clean, corrupted float64) (float64, error) {
	d := clean - corrupted
	if d == 0 || math.IsNaN(d) {
		return 0, fmt.Errorf("patching: cannot normalise: clean and corrupted metric are both %g", clean)
	}
	return (v - corrupted) / d, nil
}

// softmax64 writes softmax(x) into dst in float64 and returns log Σ exp(x).
func softmax64(dst []float64, x []float32) float64 {
	mx := math.Inf(-1)
	for _, v := range x {
		mx = math.Max(mx, float64(v))
	}
	var z float64
	for i, v := range x {
		dst[i] = math.Exp(float64(v) - mx)
		z += dst[i]
	}
	for i := range dst {
		dst[i] /= z
	}
	return mx + math.Log(z)
}

func dims(logits *tensor.Tensor) (batch, pos, vocab int) {
	if len(logits.Shape) != 3 {
		panic(tensor.ShapeError{Op: "Metric", Msg: fmt.Sprintf("logits of shape %v, want [batch, pos, d_vocab_out]", logits.Shape)})
	}
	return logits.Shape[0], logits.Shape[1], logits.Shape[2]
}

// pick returns ids[b], or ids[0] when one id serves every sequence.
func pick(ids []int, b int) int {
	if len(ids) == 1 {
		return ids[0]
	}
	return ids[b]
}

func wrapPos(p, n int) int {
	if p < 0 {
		p += n
	}
	if p < 0 || p >= n {
		panic(tensor.ShapeError{Op: "Metric", Msg: fmt.Sprintf("position %d outside %d positions", p, n)})
	}
	return p
}

func checkPos(p, n int) (int, error) {
	if p < -n || p >= n {
		return 0, fmt.Errorf("patching: metric position %d outside [%d, %d)", p, -n, n)
	}
	if p < 0 {
		p += n
	}
	return p, nil
}

func checkIDs(what string, ids []int, batch, vocab int) error {
	if len(ids) != 1 && len(ids) != batch {
		return fmt.Errorf("patching: %d %s tokens for a batch of %d (want 1 or %d)", len(ids), what, batch, batch)
	}
	for i, t := range ids {
		if t < 0 || t >= vocab {
			return fmt.Errorf("patching: %s token %d (entry %d) outside the output vocabulary [0, %d)", what, t, i, vocab)
		}
	}
	return nil
}
