package circuits_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mechinterp/workbench/circuits"
	"github.com/mechinterp/workbench/internal/testenv"
	"github.com/mechinterp/workbench/train/induction"
	"github.com/mechinterp/workbench/transformer"
)

// inductionRelative is the bar for the induction circuit's
// K-composition: at least 1.3× the baseline 1/√d_model.
const inductionRelative = 1.3

// checkInductionCircuit asserts that the report names a layer-0
// previous-token head and a layer-1 induction head whose strongest
// layer-0 K-composition comes from that previous-token head, at least
// inductionRelative× the baseline, and that the text report says so.
func checkInductionCircuit(t *testing.T, r *circuits.Report) {
	t.Helper()
	var text strings.Builder
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", text.String())
	if len(r.PrevTokenHeads) == 0 || r.PrevTokenHeads[0].Layer != 0 {
		t.Fatalf("previous-token heads %+v: want a layer-0 head first", r.PrevTokenHeads)
	}
	if len(r.InductionHeads) == 0 || r.InductionHeads[0].Layer != 1 {
		t.Fatalf("induction heads %+v: want a layer-1 head first", r.InductionHeads)
	}
	ih := r.InductionHeads[0]
	var best float64
	var bestWriter string
	for h1 := range r.NHeads {
		if k := r.Composition.K[0][h1][1][ih.Head]; k > best {
			best, bestWriter = k, circuits.HeadLabel(0, h1)
		}
	}
	if ih.KWriter != bestWriter || ih.K != best {
		t.Errorf("%s: K-writer %s (%v), but the strongest L0→L1 K-composition is from %s (%v)", ih.Label, ih.KWriter, ih.K, bestWriter, best)
	}
	if !ih.WriterIsPrevToken {
		t.Errorf("%s's strongest K-writer %s is not named a previous-token head (%+v)", ih.Label, ih.KWriter, r.PrevTokenHeads)
	}
	if ih.KRelative < inductionRelative {
		t.Errorf("%s ← %s: K-composition %.4f is %.2f× the baseline %.4f, want ≥ %v×", ih.Label, ih.KWriter, ih.K, ih.KRelative, r.CompositionBaseline, inductionRelative)
	}
	for _, want := range []string{"previous-token heads", ih.Label + " (", "strongest K-composition from " + ih.KWriter, ih.KWriter + " is a previous-token head"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q", want)
		}
	}
}

// TestInductionCircuitNamedParity runs the naming check on the parity
// fixture's trained induction model.
func TestInductionCircuitNamedParity(t *testing.T) {
	dir := testenv.ParityModel(t, "attn2_induction")
	analyzeInduction(t, func() (*transformer.Model, error) {
		return transformer.LoadWithConfig(filepath.Join(dir, "model.safetensors"), filepath.Join(dir, "config.json"))
	})
}

// TestInductionCircuitNamedTrained trains the induction experiment with its
// defaults, cut to trainSteps steps, and checks that the analysis names the
// circuit.
func TestInductionCircuitNamedTrained(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model for ~1,500 steps")
	}
	const trainSteps = 1500
	cfg := induction.Default()
	cfg.Steps, cfg.EvalEvery, cfg.EvalSize = trainSteps, trainSteps, 64
	began := time.Now()
	res, err := induction.Train(context.Background(), cfg, t.TempDir(), induction.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("trained %d steps in %v: eval accuracy %.3f, loss %.4f", res.Steps, time.Since(began).Round(time.Millisecond), res.FinalEvalAcc, res.FinalEvalLoss)
	analyzeInduction(t, func() (*transformer.Model, error) { return transformer.Load(res.Model) })
}

// analyzeInduction loads a model, analyses it and checks the circuit.
func analyzeInduction(t *testing.T, load func() (*transformer.Model, error)) {
	t.Helper()
	m, err := load()
	if err != nil {
		t.Fatal(err)
	}
	r, err := circuits.Analyze(context.Background(), m, circuits.AnalyzeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkInductionCircuit(t, r)
}
