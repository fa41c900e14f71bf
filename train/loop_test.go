package train

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/checkpoint"
	"github.com/mechinterp/workbench/optim"
)

// linreg is a tiny Trainable: least squares y = w·x with a batch drawn from
// (seed, step), so that resume is exact.
type linreg struct {
	w, g   []float32
	truth  []float32
	seed   uint64
	pcg    *rand.PCG
	rng    *rand.Rand
	x      []float32
	onStep func(s int)
}

func newLinreg(seed uint64) *linreg {
	l := &linreg{w: make([]float32, 4), g: make([]float32, 4), truth: []float32{1, -2, 0.5, 3}, seed: seed, x: make([]float32, 4)}
	l.pcg = rand.NewPCG(0, 0)
	l.rng = rand.New(l.pcg)
	return l
}

func (l *linreg) Params() []optim.Param {
	return []optim.Param{{Name: "w", Data: l.w, Grad: l.g, Decay: true}}
}

func (l *linreg) Step(ctx context.Context, s int) (float64, error) {
	if l.onStep != nil {
		l.onStep(s)
	}
	l.pcg.Seed(l.seed, uint64(s))
	clear(l.g)
	var loss float64
	const n = 8
	for i := 0; i < n; i++ {
		var pred, y float32
		for j := range l.x {
			l.x[j] = float32(l.rng.NormFloat64())
			pred += l.w[j] * l.x[j]
			y += l.truth[j] * l.x[j]
		}
		d := pred - y
		loss += float64(d*d) / n
		for j := range l.x {
			l.g[j] += 2 * d * l.x[j] / n
		}
	}
	return loss, nil
}

func (l *linreg) TokensPerStep() int { return 8 }

func (l *linreg) Tensors() []checkpoint.Tensor {
	return []checkpoint.Tensor{{Name: "w", Shape: []int{4}, Data: l.w}}
}

func (l *linreg) Restore(f *checkpoint.File) error { return f.Float32Into(l.w, "w", []int{4}) }

func newOpt(t *testing.T, l *linreg) optim.Optimizer {
	o, err := optim.NewAdamW(l.Params(), optim.AdamConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func opts(dir string, steps int) Options {
	return Options{Steps: steps, LogEvery: 5, EvalEvery: 10, Schedule: optim.Cosine(0.05, 5, steps, 0.001), ClipNorm: 10, Dir: dir}
}

func TestRunLearnsAndLogs(t *testing.T) {
	dir := t.TempDir()
	l := newLinreg(1)
	var seen []Record
	o := opts(dir, 300)
	o.Eval = func(ctx context.Context, step int) (map[string]any, error) {
		var e float64
		for j := range l.w {
			e += math.Abs(float64(l.w[j] - l.truth[j]))
		}
		return map[string]any{"weight_error": e}, nil
	}
	o.Listeners = []func(Record){func(r Record) { seen = append(seen, r) }}
	sum, err := Run(context.Background(), l, newOpt(t, l), o)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Steps != 300 || sum.FinalEval["weight_error"].(float64) > 0.2 { // from 6.5 at the start; AdamW decay biases w slightly
		t.Errorf("summary %+v: did not learn", sum)
	}
	f, _ := os.Open(filepath.Join(dir, "metrics.jsonl"))
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); n++ {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("metrics line %d: %v", n, err)
		}
	}
	if n != 60 || len(seen) != 60 {
		t.Errorf("metrics.jsonl has %d records, listeners saw %d; want 60 (every 5 of 300 steps)", n, len(seen))
	}
	if _, err := os.Stat(sum.Checkpoint); err != nil {
		t.Errorf("final checkpoint: %v", err)
	}
}

func TestResumeIsExact(t *testing.T) {
	full := newLinreg(2)
	if _, err := Run(context.Background(), full, newOpt(t, full), opts(t.TempDir(), 100)); err != nil {
		t.Fatal(err)
	}
	// Interrupt a second run at step 37 (after a checkpoint at 30), resume.
	dir := t.TempDir()
	part := newLinreg(2)
	ctx, cancel := context.WithCancel(context.Background())
	part.onStep = func(s int) {
		if s == 37 {
			cancel()
		}
	}
	sum, err := Run(ctx, part, newOpt(t, part), opts(dir, 100))
	if !errors.Is(err, context.Canceled) || !sum.Interrupted {
		t.Fatalf("interrupted run: %+v, %v", sum, err)
	}
	steps, _ := Checkpoints(dir)
	if !slices.Contains(steps, 38) {
		t.Fatalf("no final checkpoint at the interruption: %v", steps)
	}
	again := newLinreg(2)
	o := opts(dir, 100)
	o.Resume = true
	sum, err = Run(context.Background(), again, newOpt(t, again), o)
	if err != nil {
		t.Fatal(err)
	}
	if sum.ResumedAtStep != 38 {
		t.Errorf("resumed at %d, want 38", sum.ResumedAtStep)
	}
	for j := range full.w {
		if math.Float32bits(full.w[j]) != math.Float32bits(again.w[j]) {
			t.Fatalf("resumed weights %v differ from uninterrupted %v", again.w, full.w)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	count := map[int]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r struct{ Step int }
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		count[r.Step]++
	}
	for s := 5; s <= 100; s += 5 {
		if count[s] != 1 {
			t.Errorf("metrics.jsonl has step %d %d times after resume, want once", s, count[s])
		}
	}
}

func TestPhaseChange(t *testing.T) {
	s := []Point{{100, 0.01}, {200, 0.02}, {300, 0.05}, {400, 0.6}, {500, 0.9}, {600, 0.92}}
	b, at, ok := PhaseChange(s, 0.2)
	if !ok || b != 300 || at != 400 {
		t.Errorf("PhaseChange = %d, %d, %v; want 300, 400, true", b, at, ok)
	}
	if _, _, ok := PhaseChange([]Point{{1, 0.1}, {2, 0.15}}, 0.2); ok {
		t.Error("a small rise was called a phase change")
	}
	step, rise := LossBump([]Point{{10, 3}, {20, 2.5}, {30, 2.7}, {40, 1}})
	if step != 30 || math.Abs(rise-0.2) > 1e-12 {
		t.Errorf("LossBump = %d, %v", step, rise)
	}
}

func TestBadOptions(t *testing.T) {
	l := newLinreg(3)
	for _, o := range []Options{
		{Steps: 0, Schedule: optim.Constant(1), Dir: t.TempDir()},
		{Steps: 5, Dir: t.TempDir()},
		{Steps: 5, Schedule: optim.Constant(1)},
	} {
		if _, err := Run(context.Background(), l, newOpt(t, l), o); err == nil {
			t.Errorf("Run accepted %+v", o)
		}
	}
}

func TestEvalEventsAreLinesOfTheirOwn(t *testing.T) {
	dir := t.TempDir()
	l := newLinreg(1)
	_, err := Run(context.Background(), l, newOpt(t, l), Options{
		Steps: 20, LogEvery: 5, EvalEvery: 10, Schedule: optim.Constant(0.01), Dir: dir,
		Eval: func(_ context.Context, step int) (map[string]any, error) {
			r := map[string]any{"score": step}
			if step == 10 {
				r[EventsKey] = []Record{{"step": 7, "event": "phase_change"}}
			}
			return r, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	err = ScanMetrics(dir, func(line []byte) error {
		var r map[string]any
		json.Unmarshal(line, &r)
		delete(r, "elapsed_s")
		delete(r, "loss")
		delete(r, "lr")
		b, _ := json.Marshal(r)
		lines = append(lines, string(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`{"step":5}`, `{"score":10,"step":10}`, `{"event":"phase_change","step":7}`, `{"step":15}`, `{"score":20,"step":20}`}
	if !slices.Equal(lines, want) {
		t.Errorf("metrics lines\n%v\nwant\n%v", lines, want)
	}
}
