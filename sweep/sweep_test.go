package sweep

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/mechinterp/workbench/train"
)

// fakeCLI is a Runner standing in for the CLI: `train toy` has the flags
// seed, lr, steps, weight-decay, mlp and out/resume/json; `analyze` has
// model and json. Every call is recorded; onTrain, if set, runs for each
// training call after its flags parse.
type fakeCLI struct {
	mu      sync.Mutex
	calls   [][]string
	onTrain func(ctx context.Context, out string) error
}

func (f *fakeCLI) run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(strings.Join(args[:min(2, len(args))], " "), flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var out string
	switch {
	case len(args) >= 2 && args[0] == "train" && args[1] == "toy":
		fs.Uint64("seed", 0, "")
		fs.Float64("lr", 0, "")
		fs.Int("steps", 0, "")
		fs.Float64("weight-decay", 0, "")
		fs.Bool("mlp", false, "")
		fs.StringVar(&out, "out", "", "")
		fs.Bool("resume", false, "")
		fs.Bool("json", false, "")
		args = args[2:]
	case len(args) >= 1 && args[0] == "analyze":
		fs.String("model", "", "")
		fs.Bool("json", false, "")
		args = args[1:]
	default:
		return fmt.Errorf("unknown command %q", args[0])
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	f.mu.Lock()
	f.calls = append(f.calls, slices.Clone(args))
	f.mu.Unlock()
	if fs.Lookup("model") != nil {
		fmt.Fprint(stdout, `{"heads": []}`)
		return nil
	}
	if f.onTrain != nil {
		return f.onTrain(ctx, out)
	}
	return nil
}

func mustSpec(t *testing.T, js string) Spec {
	t.Helper()
	s, err := ParseSpec([]byte(js))
	if err != nil {
		t.Fatalf("ParseSpec(%s): %v", js, err)
	}
	return s
}

func TestParseSpecRefuses(t *testing.T) {
	for _, c := range []struct{ spec, want string }{
		{`{"command": "train toy", "grd": {"seed": [1]}}`, `unknown field "grd"`},
		{`{"command": "train toy", "random": {"lr": {"log_uniformm": [1, 2]}}, "samples": 2}`, `unknown field "log_uniformm"`},
		{`{"command": "train toy", "flags": {"seed": 1}, "grid": {"seed": [1, 2]}}`, `"seed" is both in flags and in grid`},
		{`{"command": "train toy", "flags": {"out": "x"}}`, `flag "out" is set by the sweep itself`},
		{`{"command": "train toy", "grid": {"--seed": [1]}}`, `"--seed" is not a flag name`},
		{`{"command": "train toy", "random": {"lr": {"uniform": [0, 1]}}}`, `random axes need samples`},
		{`{"command": "train toy", "samples": 3}`, `samples 3 without random axes`},
		{`{"command": "serve"}`, `want a training command`},
		{`{"command": "train toy", "random": {"lr": {"uniform": [0, 1], "choice": [1]}}, "samples": 1}`, `exactly one of`},
		{`{"command": "train toy", "random": {"lr": {"log_uniform": [0, 1]}}, "samples": 1}`, `0 < low`},
		{`{"command": "train toy", "analyses": ["lens"]}`, `analysis "lens"`},
		{`{"command": "train toy"} {}`, `trailing data`},
	} {
		_, err := ParseSpec([]byte(c.spec))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "sweep: ") {
			t.Errorf("ParseSpec(%s) = %v, want an error containing %q", c.spec, err, c.want)
		}
	}
}

// TestPlanTasks checks the grid × samples layout, that draws stay in their
// ranges and are shared across grid points, and that IDs depend on the
// resolved flags only: not on how the spec spells them.
func TestPlanTasks(t *testing.T) {
	var cli fakeCLI
	ctx := context.Background()
	spec := mustSpec(t, `{"command": "train toy", "flags": {"steps": 400, "mlp": true},
		"grid": {"seed": [0, 1, 2]}, "random": {"lr": {"log_uniform": [1e-4, 1e-2]}, "weight-decay": {"choice": [0, 0.1]}},
		"samples": 4}`)
	p, err := NewPlan(ctx, spec, cli.run)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(p.Tasks), 3*4; got != want {
		t.Fatalf("%d tasks, want %d", got, want)
	}
	ids := map[string]bool{}
	for i, task := range p.Tasks {
		ids[task.ID] = true
		seed := strconv.Itoa(i / 4)
		if task.Index != i || task.Axes["seed"] != seed || !slices.Contains(task.Args, "--seed="+seed) || !slices.Contains(task.Args, "--mlp=true") {
			t.Errorf("task %d: %+v, want index %d, seed %s, --mlp=true", i, task, i, seed)
		}
		lr, err := strconv.ParseFloat(task.Axes["lr"], 64)
		if err != nil || lr < 1e-4 || lr > 1e-2 {
			t.Errorf("task %d: lr %q outside [1e-4, 1e-2]", i, task.Axes["lr"])
		}
		if wd := task.Axes["weight-decay"]; wd != "0" && wd != "0.1" {
			t.Errorf("task %d: weight-decay %q is not a choice", i, wd)
		}
		if k := i % 4; task.Axes["lr"] != p.Tasks[k].Axes["lr"] {
			t.Errorf("task %d: draw %d's lr %s differs from task %d's %s", i, k, task.Axes["lr"], k, p.Tasks[k].Axes["lr"])
		}
	}
	if len(ids) != len(p.Tasks) {
		t.Errorf("%d distinct IDs for %d tasks", len(ids), len(p.Tasks))
	}
	// The same sweep spelled differently: keys reordered, 400 as 4e2.
	same := mustSpec(t, `{"samples": 4, "random": {"weight-decay": {"choice": [0.0, 1e-1]}, "lr": {"log_uniform": [0.0001, 0.01]}},
		"grid": {"seed": [0, 1, 2]}, "flags": {"mlp": true, "steps": 4e2}, "command": "train  toy"}`)
	q, err := NewPlan(ctx, same, cli.run)
	if err != nil {
		t.Fatal(err)
	}
	for i := range p.Tasks {
		if p.Tasks[i].ID != q.Tasks[i].ID {
			t.Errorf("task %d: ID %s, respelled spec gives %s", i, p.Tasks[i].ID, q.Tasks[i].ID)
		}
	}
	// One base flag changed: every ID changes.
	other := spec
	other.Flags = map[string]json.RawMessage{"steps": json.RawMessage("401"), "mlp": json.RawMessage("true")}
	r, err := NewPlan(ctx, other, cli.run)
	if err != nil {
		t.Fatal(err)
	}
	for i := range p.Tasks {
		if p.Tasks[i].ID == r.Tasks[i].ID {
			t.Errorf("task %d: steps 400 and 401 share ID %s", i, p.Tasks[i].ID)
		}
	}
}

func TestLogUniformIsUniformInLog(t *testing.T) {
	var cli fakeCLI
	spec := mustSpec(t, `{"command": "train toy", "random": {"lr": {"log_uniform": [1e-4, 1e-2]}}, "samples": 2000}`)
	p, err := NewPlan(context.Background(), spec, cli.run)
	if err != nil {
		t.Fatal(err)
	}
	below := 0 // draws below the geometric midpoint 1e-3: half of them
	for _, task := range p.Tasks {
		if v, _ := strconv.ParseFloat(task.Axes["lr"], 64); v < 1e-3 {
			below++
		}
	}
	// Binomial(2000, 0.5): sd 22; 5 sd either side.
	if math.Abs(float64(below)-1000) > 5*22.4 {
		t.Errorf("%d of 2000 log-uniform draws below 1e-3, want about 1000", below)
	}
}

func TestPlanRefusesFlagsTheCommandLacks(t *testing.T) {
	var cli fakeCLI
	for _, c := range []struct{ spec, want string }{
		{`{"command": "train toy", "grid": {"sed": [1, 2]}}`, `command "train toy" has no flag --sed`},
		{`{"command": "train toy", "flags": {"steps": "many"}}`, `invalid value "many"`},
		{`{"command": "train other"}`, `unknown command`},
		{`{"command": "train toy", "grid": {"seed": [1, 1]}}`, `same configuration`},
	} {
		_, err := NewPlan(context.Background(), mustSpec(t, c.spec), cli.run)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewPlan(%s) = %v, want an error containing %q", c.spec, err, c.want)
		}
	}
}

// planned writes a plan of n seeds of `train toy` into a temporary folder.
func planned(t *testing.T, cli *fakeCLI, n int) (string, Plan) {
	t.Helper()
	seeds := make([]string, n)
	for i := range seeds {
		seeds[i] = strconv.Itoa(i)
	}
	spec := mustSpec(t, `{"command": "train toy", "flags": {"steps": 20}, "grid": {"seed": [`+strings.Join(seeds, ",")+`]}, "analyses": ["analyze"]}`)
	p, err := NewPlan(context.Background(), spec, cli.run)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := WritePlan(dir, p); err != nil {
		t.Fatal(err)
	}
	if err := WritePlan(dir, p); err != nil {
		t.Errorf("writing the same plan again: %v", err)
	}
	q, err := ReadPlan(dir)
	if err != nil || len(q.Tasks) != n {
		t.Fatalf("ReadPlan: %d tasks, %v", len(q.Tasks), err)
	}
	return dir, q
}

// writeCheckpoint makes out look like a run with a checkpoint at step.
func writeCheckpoint(out string, step int) error {
	p := train.CheckpointPath(out, step)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, nil, 0o644)
}

func TestRunTaskIsIdempotentAndResumes(t *testing.T) {
	ctx := context.Background()
	cli := &fakeCLI{}
	dir, p := planned(t, cli, 2)
	if err := WritePlan(dir, Plan{Tasks: p.Tasks[:1]}); err == nil {
		t.Error("WritePlan over another plan succeeded")
	}
	// Attempt 1 of task 0 is interrupted after its first checkpoint, as
	// Ctrl-C does: the training returns nil with ctx cancelled.
	cctx, cancel := context.WithCancel(ctx)
	cli.onTrain = func(_ context.Context, out string) error {
		cancel()
		return writeCheckpoint(out, 10)
	}
	if _, err := RunTask(cctx, dir, p, p.Tasks[0], cli.run); err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("interrupted task: err %v", err)
	}
	_, sts, err := Status(dir)
	if err != nil || sts[0].State != Pending {
		t.Fatalf("interrupted task's state %v (%v), want pending", sts[0].State, err)
	}
	// Attempt 2 resumes it, then runs the analysis.
	cli.calls, cli.onTrain = nil, nil
	done, err := RunTask(ctx, dir, p, p.Tasks[0], cli.run)
	if err != nil || done {
		t.Fatalf("second attempt: done %v, err %v", done, err)
	}
	if len(cli.calls) != 2 || !slices.Contains(cli.calls[0], "--resume") || !slices.Contains(cli.calls[0], "--out="+RunDir(dir, p.Tasks[0].ID)) {
		t.Errorf("second attempt ran %q, want the training with --resume and --out, then the analysis", cli.calls)
	}
	if b, err := os.ReadFile(filepath.Join(RunDir(dir, p.Tasks[0].ID), "analyze.json")); err != nil || !strings.Contains(string(b), "heads") {
		t.Errorf("analyze.json: %q, %v", b, err)
	}
	// Attempt 3: done, nothing runs.
	cli.calls = nil
	done, err = RunTask(ctx, dir, p, p.Tasks[0], cli.run)
	if err != nil || !done || len(cli.calls) != 0 {
		t.Errorf("done task: done %v, err %v, calls %q; want skipped", done, err, cli.calls)
	}
	// Task 1 starts fresh: no --resume.
	if _, err := RunTask(ctx, dir, p, p.Tasks[1], cli.run); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(cli.calls[0], "--resume") {
		t.Errorf("a fresh task ran with --resume: %q", cli.calls[0])
	}
	_, sts, _ = Status(dir)
	if got, want := Counts(sts), "2 done, 0 running, 0 failed, 0 pending"; got != want {
		t.Errorf("Counts = %q, want %q", got, want)
	}
}

func TestStatusFailedAndRunning(t *testing.T) {
	ctx := context.Background()
	cli := &fakeCLI{onTrain: func(context.Context, string) error { return errors.New("loss became NaN") }}
	dir, p := planned(t, cli, 3)
	if _, err := RunTask(ctx, dir, p, p.Tasks[0], cli.run); err == nil {
		t.Fatal("a failing task returned no error")
	}
	lock, err := train.LockDir(TaskDir(dir, p.Tasks[1].ID)) // task 1 runs elsewhere
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock()
	_, sts, err := Status(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := Counts(sts), "0 done, 1 running, 1 failed, 1 pending"; got != want {
		t.Errorf("Counts = %q, want %q", got, want)
	}
	var b strings.Builder
	WriteStatus(&b, sts)
	if !strings.Contains(b.String(), "failed   seed=0  (sweep: task 0") || !strings.Contains(b.String(), "loss became NaN") {
		t.Errorf("status:\n%s\nwant task 0 failed with its error", b.String())
	}
	cli.onTrain = nil
	if _, err := RunTask(ctx, dir, p, p.Tasks[1], cli.run); err == nil || !strings.Contains(err.Error(), "running elsewhere") {
		t.Errorf("RunTask on a locked task: %v, want running elsewhere", err)
	}
	if _, err := RunTask(ctx, dir, p, p.Tasks[0], cli.run); err != nil {
		t.Errorf("retrying the failed task: %v", err)
	}
	if _, sts, _ = Status(dir); sts[0].State != Done {
		t.Errorf("retried task: %s, want done", sts[0].State)
	}
}
