package main

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mechinterp/workbench/transformer"
)

// wideConfig is a random model at the demo's size of input: 40 positions
// and 64 tokens, the widest tables the toy models print.
func wideConfig() transformer.Config {
	return transformer.Config{NLayers: 2, DModel: 16, NHeads: 4, DHead: 4, DVocab: 64, NCtx: 40, AttnOnly: true, Seed: 11}.WithDefaults()
}

// writeSeqs writes token sequences as a JSON file and returns its path.
func writeSeqs(t *testing.T, seqs [][]int) string {
	t.Helper()
	b, _ := json.Marshal(seqs)
	path := filepath.Join(t.TempDir(), "tokens.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// repeatedBlock returns a sequence of n distinct random tokens from [lo,
// vocab) followed by the same n again.
func repeatedBlock(rng *rand.Rand, n, lo, vocab int) []int {
	perm := rng.Perm(vocab - lo)[:n]
	seq := make([]int, 0, 2*n)
	for _, p := range perm {
		seq = append(seq, p+lo)
	}
	return append(seq, seq...)
}

// checkTableText checks human output: no line wider than screenWidth, and
// within each table block (lines between blank lines and "columns" titles,
// that start with a row label of the table) every line as long as the
// first, so that columns line up.
func checkTableText(t *testing.T, what, out string, rowLabels ...string) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if n := utf8.RuneCountInString(line); n > screenWidth {
			t.Errorf("%s: line of %d columns, want at most %d: %q", what, n, screenWidth, line)
		}
	}
	// Cells are right-aligned: every cell of a row ends in a column where a
	// cell of the block's first row ends.
	var ends map[int]bool
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || !slicesContains(rowLabels, f[0]) {
			ends = nil
			continue
		}
		e := cellEnds(line)
		if ends == nil {
			ends = map[int]bool{}
			for _, x := range e {
				ends[x] = true
			}
			continue
		}
		for _, x := range e[1:] { // the label is left-aligned
			if !ends[x] {
				t.Errorf("%s: a cell of row %q ends at column %d, where no cell of the block's first row ends: columns do not line up", what, line, x)
				break
			}
		}
	}
}

// cellEnds returns the column (in runes) after each space-separated field
// of line.
func cellEnds(line string) []int {
	var ends []int
	r := []rune(line)
	for i := range r {
		if r[i] != ' ' && (i+1 == len(r) || r[i+1] == ' ') {
			ends = append(ends, i+1)
		}
	}
	return ends
}

func slicesContains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// TestPatchTableFits checks patch's human output on 40 positions: at most
// 100 columns, aligned, the input tokens as header rows (every clean token,
// in order), values normalised (1 = clean, 0 = corrupted), and --json
// still the metric's own values.
func TestPatchTableFits(t *testing.T) {
	dir, _ := saveModel(t, wideConfig())
	rng := rand.New(rand.NewPCG(3, 3))
	clean := repeatedBlock(rng, 20, 1, 64)
	corrupted := append([]int(nil), clean...)
	for p := 0; p < 20; p++ {
		corrupted[p] = (clean[p] + 7) % 64
	}
	cleanPath, corruptedPath := writeSeqs(t, [][]int{clean}), writeSeqs(t, [][]int{corrupted})
	args := []string{"patch", "--model", dir, "--clean", cleanPath, "--corrupted", corruptedPath, "--metric", "logit-diff", "--answer", "5", "--wrong", "6"}
	for _, what := range []string{"resid_pre", "head_out", "attn_out"} {
		out, _, err := runCLI(t, append(args, "--what", what)...)
		if err != nil {
			t.Fatalf("patch --what %s: %v", what, err)
		}
		rows := []string{"pos", "clean", "corrupted", "L0", "L1"}
		for l := range 2 {
			for h := range 4 {
				rows = append(rows, fmt.Sprintf("L%dH%d", l, h))
			}
		}
		checkTableText(t, "patch --what "+what, out, rows...)
		if !strings.Contains(out, "values normalised: 1 = the clean run's metric, 0 = the corrupted run's") {
			t.Errorf("patch --what %s: no statement that the values are normalised:\n%s", what, out)
		}
		var got []string
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) > 0 && f[0] == "clean" {
				got = append(got, f[1:]...)
			}
		}
		if want := strings.Fields(strings.Trim(fmt.Sprint(clean), "[]")); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("patch --what %s: clean header row %v, want the clean tokens %v", what, got, want)
		}
	}
	// Patching the whole residual stream before layer 0 gives the clean run:
	// 1 once normalised, whatever the model.
	out, _, err := runCLI(t, append(args, "--what", "resid_pre", "--by-pos=false")...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "\nL0  1.00\n") {
		t.Errorf("patch --by-pos=false --what resid_pre: want row L0 at 1.00 (the clean run):\n%s", out)
	}
	raw, _, err := runCLI(t, append(args, "--what", "resid_pre", "--by-pos=false", "--raw")...)
	if err != nil || strings.Contains(raw, "\nL0  1.00\n") || !strings.Contains(raw, "the metric logit-diff") {
		t.Errorf("patch --raw printed normalised values or no statement of them (%v):\n%s", err, raw)
	}
	js, _, err := runCLI(t, append(args, "--what", "resid_pre", "--by-pos=false", "--json")...)
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Clean      float64   `json:"clean"`
		Normalized bool      `json:"normalized"`
		Values     []float64 `json:"values"`
	}
	if err := json.Unmarshal([]byte(js), &g); err != nil {
		t.Fatal(err)
	}
	if g.Normalized || math.Abs(g.Values[0]-g.Clean) > 1e-4*max(1, math.Abs(g.Clean)) {
		t.Errorf("patch --json: normalized %t, L0 %v, clean %v: want the metric's own values, L0 = clean", g.Normalized, g.Values[0], g.Clean)
	}
}

// TestLensTableFits checks lens's human output on 40 positions: at most 100
// columns, aligned, and an input row holding the input tokens.
func TestLensTableFits(t *testing.T) {
	dir, _ := saveModel(t, wideConfig())
	rng := rand.New(rand.NewPCG(4, 4))
	seq := repeatedBlock(rng, 20, 1, 64)
	out, _, err := runCLI(t, "lens", "--model", dir, "--tokens", writeSeqs(t, [][]int{seq}))
	if err != nil {
		t.Fatal(err)
	}
	checkTableText(t, "lens", out, "pos", "input", "next", "point", "embed", "blocks.0.hook_resid_post", "blocks.1.hook_resid_post")
	var inputs []string
	seen := 0
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == "input" {
			inputs = append(inputs, f[1:]...)
			seen++
		}
	}
	// Two tables carry the input row: loss by position (39 predictions) and
	// top-1 tokens (40 positions).
	want := strings.Fields(strings.Trim(fmt.Sprint(seq[:39]), "[]"))
	want = append(want, strings.Fields(strings.Trim(fmt.Sprint(seq), "[]"))...)
	if strings.Join(inputs, " ") != strings.Join(want, " ") {
		t.Errorf("lens input rows hold %v, want the input tokens %v", inputs, want)
	}
}

// TestEvalAndLensReportPositionSets trains a small induction model and
// checks that eval and lens report loss per position and over the
// predictable positions, naming each set: on repeated blocks the trained
// model's loss over the predictable second copy is far below its loss
// over all positions, and the numbers agree with each other.
func TestEvalAndLensReportPositionSets(t *testing.T) {
	run := filepath.Join(t.TempDir(), "run")
	if _, _, err := runCLI(t, trainArgs(run, "--steps", "400")...); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(9, 9))
	var seqs [][]int
	for range 6 {
		seqs = append(seqs, repeatedBlock(rng, 6, 0, 16)) // the task: blocks of 3..6 distinct tokens, 12 positions
	}
	path := writeSeqs(t, seqs)
	out, _, err := runCLI(t, "eval", "--model", run, "--tokens", path, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Loss                float64   `json:"loss"`
		Accuracy            float64   `json:"accuracy"`
		LossPredictable     float64   `json:"loss_predictable"`
		AccuracyPredictable float64   `json:"accuracy_predictable"`
		PredictablePos      int       `json:"predictable_positions"`
		PerPositionLoss     []float64 `json:"per_position_loss"`
		PerPositionAccuracy []float64 `json:"per_position_accuracy"`
	}
	if err := json.Unmarshal([]byte(out), &ev); err != nil {
		t.Fatal(err)
	}
	if len(ev.PerPositionLoss) != 11 || len(ev.PerPositionAccuracy) != 11 {
		t.Fatalf("per-position arrays of %d and %d entries, want 11 (positions 0..10)", len(ev.PerPositionLoss), len(ev.PerPositionAccuracy))
	}
	// "loss" (the model's own loss) is the mean of the per-position losses
	// (computed here in float64 from the logits).
	var sum, predSum float64
	for p, l := range ev.PerPositionLoss {
		sum += l
		if p >= 6 { // the second copy: positions 6..10 predict tokens 7..11
			predSum += l
		}
	}
	const lossTol = 1e-4 // float32 logits, float64 sums
	if math.Abs(sum/11-ev.Loss) > lossTol*max(1, ev.Loss) {
		t.Errorf("mean per-position loss %v, loss %v", sum/11, ev.Loss)
	}
	if ev.PredictablePos != 6*5 || math.Abs(predSum/5-ev.LossPredictable) > lossTol*max(1, ev.LossPredictable) {
		t.Errorf("predictable: %d positions, loss %v; want 30 positions, loss %v (mean over positions 6..10)", ev.PredictablePos, ev.LossPredictable, predSum/5)
	}
	if !(ev.LossPredictable < ev.Loss/3) || !(ev.AccuracyPredictable > ev.Accuracy) {
		t.Errorf("trained model: loss %v over all positions, %v over the predictable ones; accuracy %v and %v: want the predictable loss far lower",
			ev.Loss, ev.LossPredictable, ev.Accuracy, ev.AccuracyPredictable)
	}
	human, _, err := runCLI(t, "eval", "--model", run, "--tokens", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"all positions 0..10:", fmt.Sprintf("predictable positions: loss %.4f", ev.LossPredictable), "30 positions, 6/6 sequences", "by position"} {
		if !strings.Contains(human, want) {
			t.Errorf("eval's human output lacks %q:\n%s", want, human)
		}
	}
	out, _, err = runCLI(t, "lens", "--model", run, "--tokens", path, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var ln struct {
		Loss            []float64   `json:"loss"`
		LossPredictable []float64   `json:"loss_predictable"`
		PerPositionLoss [][]float64 `json:"per_position_loss"`
	}
	if err := json.Unmarshal([]byte(out), &ln); err != nil {
		t.Fatal(err)
	}
	last := len(ln.Loss) - 1
	if len(ln.LossPredictable) != len(ln.Loss) || len(ln.PerPositionLoss) != len(ln.Loss) {
		t.Fatalf("lens: %d points, %d predictable losses, %d per-position rows", len(ln.Loss), len(ln.LossPredictable), len(ln.PerPositionLoss))
	}
	// The lens at the last point decodes what the model outputs.
	if math.Abs(ln.LossPredictable[last]-ev.LossPredictable) > lossTol*max(1, ev.LossPredictable) {
		t.Errorf("lens final point's predictable loss %v, eval's %v", ln.LossPredictable[last], ev.LossPredictable)
	}
	for p, l := range ln.PerPositionLoss[last] {
		if math.Abs(l-ev.PerPositionLoss[p]) > lossTol*max(1, l) {
			t.Errorf("position %d: lens final loss %v, eval %v", p, l, ev.PerPositionLoss[p])
		}
	}
	human, _, err = runCLI(t, "lens", "--model", run, "--tokens", path)
	if err != nil || !strings.Contains(human, `"all" positions 0..10`) || !strings.Contains(human, "predictable: positions whose token occurred earlier") {
		t.Errorf("lens's human output does not name its sets (%v):\n%s", err, human)
	}
}
