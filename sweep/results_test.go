package sweep

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/mechinterp/workbench/train"
)

// doneSweep plans len(summaries) seeds of `train toy`, writes each task's
// summary.json and marks it done.
func doneSweep(t *testing.T, summaries []string) (string, Plan) {
	t.Helper()
	cli := &fakeCLI{}
	dir, p := planned(t, cli, len(summaries))
	for i, s := range summaries {
		cli.onTrain = func(_ context.Context, out string) error {
			return os.WriteFile(filepath.Join(out, train.SummaryFile), []byte(s), 0o644)
		}
		if _, err := RunTask(context.Background(), dir, p, p.Tasks[i], cli.run); err != nil {
			t.Fatal(err)
		}
	}
	return dir, p
}

func TestResultsAndSummarize(t *testing.T) {
	dir, _ := doneSweep(t, []string{
		`{"phase_change_step": 300, "final_eval_acc": 0.5, "wall_seconds": 9, "induction_score": [[0.1, 0.2], [0.9, 0.3]]}`,
		`{"phase_change_step": null, "final_eval_acc": 0.25, "wall_seconds": 3, "induction_score": [[0.1, 0.2], [0.4, 0.3]]}`,
		`{"phase_change_step": 100, "final_eval_acc": 1, "tokens_per_second": 5, "induction_score": [[0.7]]}`,
		`{"phase_change_step": 200, "final_eval_acc": 0.75, "induction_score": []}`,
		`{"phase_change_step": 500, "final_eval_acc": 0}`,
	})
	sts, rs, err := Results(dir)
	if err != nil || len(sts) != 5 || len(rs) != 5 {
		t.Fatalf("Results: %d statuses, %d results, %v", len(sts), len(rs), err)
	}
	if got := rs[0].Metrics["induction_score_max"]; got != 0.9 {
		t.Errorf("induction_score_max of task 0 = %v, want 0.9", got)
	}
	if _, ok := rs[3].Metrics["induction_score_max"]; ok {
		t.Error("an empty array gave a maximum")
	}
	if !math.IsNaN(rs[1].Metrics["phase_change_step"]) {
		t.Errorf("null phase change = %v, want NaN (never)", rs[1].Metrics["phase_change_step"])
	}
	for _, r := range rs {
		for _, k := range []string{"wall_seconds", "tokens_per_second"} {
			if _, ok := r.Metrics[k]; ok {
				t.Errorf("task %d: wall-clock field %s kept", r.Index, k)
			}
		}
	}
	want := map[string]Stats{
		// 100 200 300 500: hinges are the medians of {100, 200} and {300, 500}.
		"phase_change_step": {N: 4, Never: 1, Min: 100, Quartile1: 150, Median: 250, Quartile3: 400, Max: 500},
		// 0 0.25 0.5 0.75 1: hinges are the medians of {0, 0.25, 0.5} and {0.5, 0.75, 1}.
		"final_eval_acc":      {N: 5, Min: 0, Quartile1: 0.25, Median: 0.5, Quartile3: 0.75, Max: 1},
		"induction_score_max": {N: 3, Min: 0.4, Quartile1: 0.55, Median: 0.7, Quartile3: 0.8, Max: 0.9},
	}
	got := map[string]Stats{}
	for _, s := range Summarize(rs) {
		name := s.Metric
		s.Metric = ""
		got[name] = s
	}
	for k, w := range want {
		g := got[k]
		if g.N != w.N || g.Never != w.Never || math.Abs(g.Min-w.Min) > 1e-12 || math.Abs(g.Quartile1-w.Quartile1) > 1e-12 ||
			math.Abs(g.Median-w.Median) > 1e-12 || math.Abs(g.Quartile3-w.Quartile3) > 1e-12 || math.Abs(g.Max-w.Max) > 1e-12 {
			t.Errorf("%s: got %+v, want %+v", k, g, w)
		}
	}
}
