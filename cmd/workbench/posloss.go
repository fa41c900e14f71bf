package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"

	"github.com/mechinterp/workbench/data"
)

// positionStats accumulates next-token loss and accuracy over sequences of
// one length T: per position (the prediction made at position p of the
// token at p+1, p = 0..T−2) and over the positions the induction task makes
// predictable (data.RepeatedPositions: the positions whose token occurred
// earlier in the sequence, the same set the dashboard's Lens page uses),
// so that a mean over every position, which a
// repeated block's unpredictable first half dominates, is never the only
// number shown.
type positionStats struct {
	lossSum, correct []float64 // [T−1], summed over sequences
	seqs             int
	predLoss         float64 // summed over the predictable positions of every sequence
	predCorrect      float64
	predN            int // predictable positions counted
	predSeqs         int // sequences with any
}

// addSequence adds one sequence: its tokens [T] and logits [T, V] (row p
// predicts tokens[p+1]). Targets outside [0, V) are skipped; callers
// validate them first.
func (s *positionStats) addSequence(tokens []int, logits []float32, V int) {
	T := len(tokens)
	if T < 2 {
		return
	}
	if s.lossSum == nil {
		s.lossSum, s.correct = make([]float64, T-1), make([]float64, T-1)
	}
	pred := data.RepeatedPositions(tokens)
	counted := false
	for p := 0; p < T-1; p++ {
		target := tokens[p+1]
		if target < 0 || target >= V {
			continue
		}
		loss, hit := nextTokenLoss(logits[p*V:(p+1)*V], target)
		s.lossSum[p] += loss
		if hit {
			s.correct[p]++
		}
		if pred[p] {
			counted = true
			s.predLoss += loss
			s.predN++
			if hit {
				s.predCorrect++
			}
		}
	}
	if counted {
		s.predSeqs++
	}
	s.seqs++
}

// nextTokenLoss returns −log softmax(row)[target] in float64 and whether
// target is the row's most probable token (the first on ties).
func nextTokenLoss(row []float32, target int) (float64, bool) {
	best, mx := 0, float64(row[0])
	for j, x := range row {
		if float64(x) > mx {
			best, mx = j, float64(x)
		}
	}
	var sum float64
	for _, x := range row {
		sum += math.Exp(float64(x) - mx)
	}
	return mx + math.Log(sum) - float64(row[target]), best == target
}

// perPositionLoss returns the mean loss at each position 0..T−2.
func (s *positionStats) perPositionLoss() []float64 { return s.means(s.lossSum) }

// perPositionAccuracy returns the accuracy at each position 0..T−2.
func (s *positionStats) perPositionAccuracy() []float64 { return s.means(s.correct) }

func (s *positionStats) means(sums []float64) []float64 {
	out := make([]float64, len(sums))
	for p, v := range sums {
		out[p] = v / float64(s.seqs)
	}
	return out
}

// predictable returns the mean loss and accuracy over the predictable
// positions, or NaN for both when no sequence has any.
func (s *positionStats) predictable() (loss, acc float64) {
	if s.predN == 0 {
		return math.NaN(), math.NaN()
	}
	return s.predLoss / float64(s.predN), s.predCorrect / float64(s.predN)
}

// all returns the mean loss and accuracy over every position 0..T−2 of
// every sequence.
func (s *positionStats) all() (loss, acc float64) {
	var l, a float64
	for p := range s.lossSum {
		l += s.lossSum[p]
		a += s.correct[p]
	}
	n := float64(s.seqs * len(s.lossSum))
	if n == 0 {
		return math.NaN(), math.NaN()
	}
	return l / n, a / n
}

// predictableSet says in words which positions predictable() covers.
func (s *positionStats) predictableSet() string {
	if s.predN == 0 {
		return "none: no token occurs twice in a sequence"
	}
	return fmt.Sprintf("positions whose token occurred earlier in its sequence (%d positions, %d/%d sequences)",
		s.predN, s.predSeqs, s.seqs)
}

// predictableWhy says why the predictable positions are those.
const predictableWhy = "what followed the earlier occurrence can be copied: on the induction task, exactly its targets"

// jsonNumber is v for JSON: a number, or null for NaN.
func jsonNumber(v float64) any {
	if math.IsNaN(v) {
		return nil
	}
	return v
}

// writeSummary prints the two sets' loss and accuracy, each naming its set.
func (s *positionStats) writeSummary(w io.Writer) {
	l, a := s.all()
	fmt.Fprintf(w, "all positions 0..%d:    loss %.4f, accuracy %.4f\n", len(s.lossSum)-1, l, a)
	pl, pa := s.predictable()
	if math.IsNaN(pl) {
		fmt.Fprintf(w, "predictable positions: %s\n", s.predictableSet())
		return
	}
	fmt.Fprintf(w, "predictable positions: loss %.4f, accuracy %.4f\n", pl, pa)
	fmt.Fprintf(w, "  (%s,\n  %s)\n", s.predictableSet(), predictableWhy)
}

// positionJSON are the fields eval's and lens's JSON gain: loss and
// accuracy per position and over the named sets of positions.
type positionJSON struct {
	Accuracy            any       `json:"accuracy"`
	LossPredictable     any       `json:"loss_predictable"`
	AccuracyPredictable any       `json:"accuracy_predictable"`
	PredictablePos      int       `json:"predictable_positions"`
	PredictableSet      string    `json:"predictable_set"`
	PerPositionLoss     []float64 `json:"per_position_loss"`
	PerPositionAccuracy []float64 `json:"per_position_accuracy"`
}

func (s *positionStats) json() positionJSON {
	_, a := s.all()
	pl, pa := s.predictable()
	return positionJSON{Accuracy: jsonNumber(a), LossPredictable: jsonNumber(pl), AccuracyPredictable: jsonNumber(pa),
		PredictablePos: s.predN, PredictableSet: s.predictableSet(),
		PerPositionLoss: s.perPositionLoss(), PerPositionAccuracy: s.perPositionAccuracy()}
}

// writePositionJSON writes s's positionJSON fields as ,"key":value… into
// an object being written.
func writePositionJSON(w io.Writer, s *positionStats) error {
	b, err := json.Marshal(s.json())
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, ",%s", b[1:len(b)-1])
	return err
}

// writePositionTable prints values [row][pos] per position p = 0..T−2, the
// prediction at p of the token at p+1, headed by the positions and, when
// input is not nil (one sequence), its tokens at p and p+1.
func writePositionTable(w io.Writer, v *vocab, input []int, labels []string, values [][]float64) {
	if len(values) == 0 || len(values[0]) == 0 {
		return
	}
	var t table
	pos := tableRow{label: "pos"}
	for p := range values[0] {
		pos.cells = append(pos.cells, fmt.Sprint(p))
	}
	t.headers = append(t.headers, pos)
	if input != nil {
		in, next := tableRow{label: "input"}, tableRow{label: "next"}
		for p := range values[0] {
			in.cells = append(in.cells, v.label(input[p]))
			next.cells = append(next.cells, v.label(input[p+1]))
		}
		t.headers = append(t.headers, in, next)
	}
	for i, row := range values {
		r := tableRow{label: labels[i]}
		for _, x := range row {
			r.cells = append(r.cells, fmt.Sprintf("%.2f", x))
		}
		t.rows = append(t.rows, r)
	}
	t.write(w, screenWidth)
}
