package induction

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/train"
)

// quickConfig is a small induction run that forms the circuit in a few
// hundred steps (a fraction of a second): accuracy passes 90% and the
// induction score jumps well before step 300.
func quickConfig() Config {
	c := Default()
	c.DVocab, c.SeqLen, c.MinRepeat = 16, 6, 3
	c.DModel, c.NHeads, c.DHead = 32, 2, 16
	c.Batch, c.LR, c.Steps, c.EvalEvery, c.EvalSize = 32, 0.003, 400, 20, 128
	return c
}

// TestResumedSummaryMatchesUninterrupted interrupts a run after its phase
// change and resumes it: the summary (steps to 90%/99%, phase change, loss
// bump, final telemetry) must equal the uninterrupted run's, the
// phase-change checkpoints must survive pruning, and resuming the finished
// run must change nothing.
func TestResumedSummaryMatchesUninterrupted(t *testing.T) {
	cfg := quickConfig()
	want, err := Train(context.Background(), cfg, t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want.StepsToAcc90 == nil || *want.StepsToAcc90 >= 300 || want.PhaseChangeStep == nil || *want.PhaseChangeStep >= 300 {
		t.Fatalf("the quick config no longer forms the circuit before step 300 (steps to 90%% %v, phase change %v): the test needs a new one", deref(want.StepsToAcc90), deref(want.PhaseChangeStep))
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	part, err := Train(ctx, cfg, dir, Options{Listeners: []func(train.Record){func(r train.Record) {
		if r["step"].(int) >= 300 {
			cancel()
		}
	}}})
	if err != nil || !part.Interrupted {
		t.Fatalf("interrupted run: %+v, %v", part, err)
	}
	got, err := Train(context.Background(), cfg, dir, Options{Resume: true})
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, got, want any) {
		t.Helper()
		if g, w := deref2(got), deref2(want); g != w {
			t.Errorf("resumed run's %s = %v, uninterrupted run's %v", name, g, w)
		}
	}
	check("steps_to_acc90", got.StepsToAcc90, want.StepsToAcc90)
	check("steps_to_acc99", got.StepsToAcc99, want.StepsToAcc99)
	check("phase_change_step", got.PhaseChangeStep, want.PhaseChangeStep)
	check("loss_bump_step", got.LossBumpStep, want.LossBumpStep)
	check("final_eval_acc", got.FinalEvalAcc, want.FinalEvalAcc)
	check("probe_acc", got.ProbeAcc, want.ProbeAcc)
	check("k_composition_max", got.KCompositionMax, want.KCompositionMax)
	steps, err := train.Checkpoints(dir)
	if err != nil {
		t.Fatal(err)
	}
	if at := *want.PhaseChangeStep; !slices.Contains(steps, at) || !slices.Contains(steps, at-cfg.EvalEvery) || !slices.Contains(steps, cfg.Steps) {
		t.Errorf("checkpoints kept after the resumed run: %v, want the phase-change pair %d, %d and the final %d", steps, at-cfg.EvalEvery, at, cfg.Steps)
	}

	files := []string{train.SummaryFile, train.MetricsFile, train.TrainConfigFile, "model.safetensors"}
	snapshot := func() [][]byte {
		var out [][]byte
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
		return out
	}
	before := snapshot()
	unchanged := func(what string) {
		t.Helper()
		for i, b := range snapshot() {
			if !bytes.Equal(b, before[i]) {
				t.Errorf("%s rewrote %s", what, files[i])
			}
		}
	}
	again, err := Train(context.Background(), cfg, dir, Options{Resume: true})
	if err != nil || !again.AlreadyFinished {
		t.Errorf("resuming the finished run: AlreadyFinished %v, %v", again.AlreadyFinished, err)
	}
	check("steps_to_acc90 after resuming the finished run", again.StepsToAcc90, want.StepsToAcc90)
	check("final_eval_acc after resuming the finished run", again.FinalEvalAcc, want.FinalEvalAcc)
	unchanged("resuming the finished run")

	short := cfg
	short.Steps = 10
	if _, err := Train(context.Background(), short, dir, Options{Resume: true}); err == nil || !strings.Contains(err.Error(), "past the 10 steps") {
		t.Errorf("resume with 10 steps after 400: %v, want an error", err)
	}
	unchanged("a resume with too few steps")
	other := cfg
	other.Steps, other.Seed, other.LR = 500, 9, 0.001
	_, err = Train(context.Background(), other, dir, Options{Resume: true})
	var cce *train.ConfigChangeError
	if !errors.As(err, &cce) || !strings.Contains(err.Error(), "seed 0 → 9") || !strings.Contains(err.Error(), "lr 0.003 → 0.001") {
		t.Errorf("resume with another seed and learning rate: %v, want a ConfigChangeError naming both", err)
	}
	unchanged("a refused config change")
}

// deref2 dereferences *int for comparison and printing.
func deref2(v any) any {
	if p, ok := v.(*int); ok {
		return deref(p)
	}
	return v
}
