package sweep

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/mechinterp/workbench/train"
)

// Runner runs one command line of the CLI (args without the program name)
// and returns its error: the CLI's own entry point, which is what a task
// runs and what NewPlan asks about the command's flags.
type Runner func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// Task is one resolved run of a sweep.
type Task struct {
	Index int    `json:"index"`
	ID    string `json:"id"` // hex hash of the command, its resolved flags and the analyses
	// Args is the command line without --out (which is DIR/runs/ID,
	// wherever DIR is mounted) and --resume (which run-task decides).
	Args []string `json:"args"`
	// Axes holds this task's values of the grid and random axes.
	Axes map[string]string `json:"axes,omitempty"`
}

// Plan is a spec and its tasks, written to DIR/plan.json.
type Plan struct {
	Spec  Spec   `json:"spec"`
	Tasks []Task `json:"tasks"`
}

// Files and folders of a sweep directory.
const (
	PlanFile = "plan.json"
	RunsDir  = "runs"
	TasksDir = "tasks"
)

// maxTasks bounds a plan, so that a typo in a spec cannot ask for an
// unbounded allocation.
const maxTasks = 100_000

// NewPlan resolves spec into tasks and checks every task's command line
// with the command itself: run(args + "-h") must stop at -h, so a flag the
// command does not have, or a value it cannot parse, is refused with the
// command's name and the flag's.
func NewPlan(ctx context.Context, spec Spec, run Runner) (Plan, error) {
	if err := spec.validate(); err != nil {
		return Plan{}, err
	}
	base := map[string]string{}
	for _, n := range sortedKeys(spec.Flags) {
		v, err := flagValue(spec.Flags[n])
		if err != nil {
			return Plan{}, fmt.Errorf("sweep: spec: flag %q: %w", n, err)
		}
		base[n] = v
	}
	gridNames := sortedKeys(spec.Grid)
	grid := make([][]string, len(gridNames))
	points := 1
	for i, n := range gridNames {
		vals, err := gridValues(n, spec.Grid[n])
		if err != nil {
			return Plan{}, err
		}
		grid[i] = vals
		points *= len(vals)
		if points > maxTasks {
			return Plan{}, fmt.Errorf("sweep: spec: the grid has more than %d points", maxTasks)
		}
	}
	samples := max(spec.Samples, 1)
	if points*samples > maxTasks {
		return Plan{}, fmt.Errorf("sweep: spec: %d grid points × %d samples is more than %d tasks", points, samples, maxTasks)
	}
	draws, err := spec.draws(samples)
	if err != nil {
		return Plan{}, err
	}
	p := Plan{Spec: spec}
	ids := map[string]int{}
	for pt := range points {
		axes := map[string]string{}
		rest := pt
		for i := len(gridNames) - 1; i >= 0; i-- { // the last axis varies fastest
			axes[gridNames[i]] = grid[i][rest%len(grid[i])]
			rest /= len(grid[i])
		}
		for k := range samples {
			t := Task{Index: len(p.Tasks), Axes: map[string]string{}}
			flags := map[string]string{}
			for n, v := range base {
				flags[n] = v
			}
			for n, v := range axes {
				flags[n], t.Axes[n] = v, v
			}
			for n, v := range draws[k] {
				flags[n], t.Axes[n] = v, v
			}
			t.Args, t.ID = taskArgs(spec, flags)
			if prev, ok := ids[t.ID]; ok {
				return Plan{}, fmt.Errorf("sweep: spec: tasks %d and %d have the same configuration (a repeated grid value?)", prev, t.Index)
			}
			ids[t.ID] = t.Index
			p.Tasks = append(p.Tasks, t)
		}
	}
	if err := p.check(ctx, run); err != nil {
		return Plan{}, err
	}
	return p, nil
}

// draws returns the values of the random axes for each sample k, drawn
// from a generator seeded by (RandomSeed, k) in the order of the axes'
// names.
func (s *Spec) draws(samples int) ([]map[string]string, error) {
	out := make([]map[string]string, samples)
	for k := range out {
		rng := rand.New(rand.NewPCG(s.RandomSeed, uint64(k)))
		out[k] = map[string]string{}
		for _, n := range sortedKeys(s.Random) {
			d := s.Random[n]
			var v string
			switch {
			case d.Uniform != nil:
				v = formatFloat(d.Uniform[0] + (d.Uniform[1]-d.Uniform[0])*rng.Float64())
			case d.LogUniform != nil:
				lo, hi := math.Log(d.LogUniform[0]), math.Log(d.LogUniform[1])
				v = formatFloat(math.Exp(lo + (hi-lo)*rng.Float64()))
			case d.IntUniform != nil:
				v = strconv.FormatInt(d.IntUniform[0]+rng.Int64N(d.IntUniform[1]-d.IntUniform[0]+1), 10)
			default:
				var err error
				if v, err = flagValue(d.Choice[rng.IntN(len(d.Choice))]); err != nil {
					return nil, fmt.Errorf("sweep: spec: random %q: %w", n, err)
				}
			}
			out[k][n] = v
		}
	}
	return out, nil
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// taskArgs returns a task's command line (flags in name order, as
// --name=value so that booleans parse) and its ID: the first 16 hex digits
// of the SHA-256 of the canonical JSON of its command, flags and analyses.
func taskArgs(spec Spec, flags map[string]string) ([]string, string) {
	args := strings.Fields(spec.Command)
	var pairs [][2]string
	for _, n := range sortedKeys(flags) {
		args = append(args, "--"+n+"="+flags[n])
		pairs = append(pairs, [2]string{n, flags[n]})
	}
	canon, _ := json.Marshal(struct {
		Command  []string    `json:"command"`
		Flags    [][2]string `json:"flags"`
		Analyses []string    `json:"analyses"`
	}{strings.Fields(spec.Command), pairs, spec.Analyses})
	sum := sha256.Sum256(canon)
	return args, hex.EncodeToString(sum[:8])
}

// check asks the command to parse every task's flags (and every
// analysis's), stopping at -h.
func (p *Plan) check(ctx context.Context, run Runner) error {
	try := func(args []string) error {
		var stderr bytes.Buffer
		err := run(ctx, append(slices.Clone(args), "-h"), io.Discard, &stderr)
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		if err == nil {
			return fmt.Errorf("sweep: %q did not stop at -h", strings.Join(args, " "))
		}
		msg := err.Error()
		if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
			return fmt.Errorf("sweep: command %q has no flag --%s", p.Spec.Command, name)
		}
		// The workbench CLI's own wording: "CMD: unknown flag --NAME (did
		// you mean --OTHER?); …".
		if _, rest, ok := strings.Cut(msg, "unknown flag --"); ok {
			rest, _, _ = strings.Cut(rest, ";")
			return fmt.Errorf("sweep: command %q has no flag --%s", p.Spec.Command, rest)
		}
		return fmt.Errorf("sweep: %s: %w", strings.Join(args, " "), err)
	}
	for _, t := range p.Tasks {
		if err := try(t.Args); err != nil {
			return fmt.Errorf("%w (task %d)", err, t.Index)
		}
	}
	for _, a := range p.Spec.Analyses {
		if err := try(analysisArgs(a, "RUN")); err != nil {
			return err
		}
	}
	return nil
}

// analysisArgs is the command line of analysis name on the run folder run;
// its JSON output goes to run/NAME.json.
func analysisArgs(name, run string) []string {
	return []string{name, "--model", run, "--json"}
}

// WritePlan writes p to dir/plan.json, creating dir. A plan already there
// is left alone when it is the same plan, and refused otherwise: its task
// folders belong to it.
func WritePlan(dir string, p Plan) error {
	path := filepath.Join(dir, PlanFile)
	if old, err := os.ReadFile(path); err == nil {
		var op Plan
		if json.Unmarshal(old, &op) == nil && samePlan(op, p) {
			return nil
		}
		return fmt.Errorf("sweep: %s holds another plan; plan into a new folder", path)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	return train.WriteJSON(path, p)
}

// samePlan reports whether a and b have the same tasks in the same order.
func samePlan(a, b Plan) bool {
	if len(a.Tasks) != len(b.Tasks) {
		return false
	}
	for i := range a.Tasks {
		if a.Tasks[i].ID != b.Tasks[i].ID {
			return false
		}
	}
	return true
}

// ReadPlan reads dir/plan.json.
func ReadPlan(dir string) (Plan, error) {
	var p Plan
	b, err := os.ReadFile(filepath.Join(dir, PlanFile))
	if err != nil {
		return p, fmt.Errorf("sweep: %w (plan it first: workbench sweep plan SPEC --out %s)", err, dir)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, fmt.Errorf("sweep: %s: %w", filepath.Join(dir, PlanFile), err)
	}
	for i, t := range p.Tasks {
		if t.Index != i || len(t.ID) != 16 || len(t.Args) < 2 {
			return p, fmt.Errorf("sweep: %s: task %d is malformed", filepath.Join(dir, PlanFile), i)
		}
		if _, err := hex.DecodeString(t.ID); err != nil {
			return p, fmt.Errorf("sweep: %s: task %d: id %q is not hex", filepath.Join(dir, PlanFile), i, t.ID)
		}
	}
	return p, nil
}

// Find returns the task with index i.
func (p *Plan) Find(i int) (Task, error) {
	if i < 0 || i >= len(p.Tasks) {
		return Task{}, fmt.Errorf("sweep: no task %d (the plan has tasks 0 to %d)", i, len(p.Tasks)-1)
	}
	return p.Tasks[i], nil
}

// FindID returns the task whose ID is id.
func (p *Plan) FindID(id string) (Task, error) {
	for _, t := range p.Tasks {
		if t.ID == id {
			return t, nil
		}
	}
	return Task{}, fmt.Errorf("sweep: no task with id %q in the plan", id)
}

// RunDir is task id's run folder in the sweep directory dir.
func RunDir(dir, id string) string { return filepath.Join(dir, RunsDir, id) }

// TaskDir is task id's state folder in the sweep directory dir.
func TaskDir(dir, id string) string { return filepath.Join(dir, TasksDir, id) }
