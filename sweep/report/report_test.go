package report_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/sweep"
	"github.com/mechinterp/workbench/sweep/report"
)

// toyRun stands in for `train toy`: it writes a summary.json whose phase
// change step is 100·seed (never for seed 3), and accepts -h.
func toyRun(_ context.Context, args []string, _, _ io.Writer) error {
	var seed int
	var out string
	for _, a := range args[2:] {
		if a == "-h" {
			return flag.ErrHelp
		}
		fmt.Sscanf(a, "--seed=%d", &seed)
		if v, ok := strings.CutPrefix(a, "--out="); ok {
			out = v
		}
	}
	phase := any(100 * seed)
	if seed == 3 {
		phase = nil
	}
	b, _ := json.Marshal(map[string]any{"phase_change_step": phase, "steps_to_acc99": 50 + 100*seed, "induction_score": [][]float64{{0.1, float64(seed) / 10}}})
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "summary.json"), b, 0o644)
}

func TestWrite(t *testing.T) {
	spec, err := sweep.ParseSpec([]byte(`{"command": "train toy", "grid": {"seed": [1, 2, 3, 4]}}`))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p, err := sweep.NewPlan(ctx, spec, toyRun)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := sweep.WritePlan(dir, p); err != nil {
		t.Fatal(err)
	}
	for _, task := range p.Tasks[:3] { // task 3 stays pending
		if _, err := sweep.RunTask(ctx, dir, p, task, toyRun); err != nil {
			t.Fatal(err)
		}
	}
	page, err := report.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"3 done, 0 running, 0 failed, 1 pending", p.Tasks[0].ID, p.Tasks[2].ID, "phase_change_hist.png", "phase_change_step_vs_seed.png", "never"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	if strings.Contains(string(html), p.Tasks[3].ID) {
		t.Error("index.html lists the pending task")
	}
	for _, f := range []string{"phase_change_hist.png", "steps_to_acc99_vs_seed.png", "induction_score_max_vs_seed.png"} {
		r, err := os.Open(filepath.Join(dir, report.Dir, f))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(r)
		r.Close()
		if err != nil || img.Bounds().Dx() < 100 {
			t.Errorf("%s: %v", f, err)
		}
	}
}
