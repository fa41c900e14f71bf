package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mechinterp/workbench/checkpoint"
	"github.com/mechinterp/workbench/optim"
)

// Trainable is a model plus its data stream, as the loop sees it.
type Trainable interface {
	// Params returns the parameters with their gradient buffers. The loop
	// reads gradients after Step and the optimizer updates Data.
	Params() []optim.Param
	// Step computes the loss of step s's batch (a pure function of the
	// seed and s) and writes its gradient into every Param.Grad.
	Step(ctx context.Context, s int) (loss float64, err error)
	// TokensPerStep is the number of tokens (or examples) one step sees,
	// for throughput reports.
	TokensPerStep() int
	// Tensors returns the parameters to checkpoint, in the model's own
	// format; Restore loads them back from a checkpoint file.
	Tensors() []checkpoint.Tensor
	Restore(f *checkpoint.File) error
}

// Record is one line of metrics.jsonl: at least "step" (steps done) and,
// on training steps, "loss" and "lr"; evaluation results are merged in.
type Record map[string]any

// Options configure Run. Zero values take the documented defaults.
type Options struct {
	Steps           int            // total steps (required)
	LogEvery        int            // log a record every N steps (default 10)
	EvalEvery       int            // evaluate every N steps (default 100; also at the end)
	CheckpointEvery int            // checkpoint every N steps (default: EvalEvery)
	Schedule        optim.Schedule // learning rate per step (required)
	ClipNorm        float64        // clip the global gradient norm (0: off)
	Dir             string         // run directory (required)
	Resume          bool           // continue from the newest checkpoint in Dir
	Metadata        map[string]string
	// Eval, if set, runs every EvalEvery steps and at the end; its numbers
	// join that step's record.
	Eval func(ctx context.Context, step int) (map[string]any, error)
	// Listeners receive every record as it is written (from Run's
	// goroutine: keep them quick).
	Listeners []func(Record)
	// Progress, if not nil, receives a one-line progress report (carriage
	// return, no newline) every LogEvery steps: meant for terminals.
	Progress io.Writer
	// KeepCheckpoints keeps at most this many periodic checkpoints besides
	// the final one and any marked by Keep (0: keep all).
	KeepCheckpoints int
}

// Summary is what Run reports and writes to summary.json.
type Summary struct {
	Steps         int            `json:"steps"`
	FinalLoss     float64        `json:"final_loss"`
	FinalEval     map[string]any `json:"final_eval,omitempty"`
	WallSeconds   float64        `json:"wall_seconds"`
	TokensPerSec  float64        `json:"tokens_per_second"`
	StepsPerSec   float64        `json:"steps_per_second"`
	Checkpoint    string         `json:"checkpoint"`
	Interrupted   bool           `json:"interrupted"`
	ResumedAtStep int            `json:"resumed_at_step,omitempty"`
}

func (o *Options) defaults() error {
	if o.Steps < 1 {
		return fmt.Errorf("train: steps must be positive, got %d", o.Steps)
	}
	if o.Schedule == nil {
		return errors.New("train: a learning-rate schedule is required")
	}
	if o.Dir == "" {
		return errors.New("train: a run directory is required")
	}
	if o.LogEvery <= 0 {
		o.LogEvery = 10
	}
	if o.EvalEvery <= 0 {
		o.EvalEvery = 100
	}
	if o.CheckpointEvery <= 0 {
		o.CheckpointEvery = o.EvalEvery
	}
	return nil
}

// CheckpointPath returns the path of the checkpoint taken after step steps.
func CheckpointPath(dir string, step int) string {
	return filepath.Join(dir, "checkpoints", fmt.Sprintf("step-%06d.safetensors", step))
}

// Checkpoints lists the steps that have checkpoints in dir, ascending.
func Checkpoints(dir string) ([]int, error) {
	ents, err := os.ReadDir(filepath.Join(dir, "checkpoints"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var steps []int
	for _, e := range ents {
		name := e.Name()
		if s, ok := strings.CutPrefix(name, "step-"); ok {
			if s, ok := strings.CutSuffix(s, ".safetensors"); ok {
				if n, err := strconv.Atoi(s); err == nil {
					steps = append(steps, n)
				}
			}
		}
	}
	sort.Ints(steps)
	return steps, nil
}

// Run trains t with opt until o.Steps steps are done or ctx is cancelled.
// On cancellation it checkpoints the current step and returns the summary
// with Interrupted set and ctx's error.
func Run(ctx context.Context, t Trainable, opt optim.Optimizer, o Options) (Summary, error) {
	if err := o.defaults(); err != nil {
		return Summary{}, err
	}
	if err := os.MkdirAll(filepath.Join(o.Dir, "checkpoints"), 0o755); err != nil {
		return Summary{}, fmt.Errorf("train: %w", err)
	}
	r := &runner{t: t, opt: opt, o: o, params: t.Params()}
	start := 0
	if o.Resume {
		s, err := r.resume()
		if err != nil {
			return Summary{}, err
		}
		start = s
	}
	if err := r.openMetrics(start); err != nil {
		return Summary{}, err
	}
	defer r.metrics.Close()
	return r.loop(ctx, start)
}

type runner struct {
	t       Trainable
	opt     optim.Optimizer
	o       Options
	params  []optim.Param
	metrics *os.File
	enc     *json.Encoder
	kept    []int
}

// resume restores the newest checkpoint and returns its step.
func (r *runner) resume() (int, error) {
	steps, err := Checkpoints(r.o.Dir)
	if err != nil {
		return 0, fmt.Errorf("train: %w", err)
	}
	if len(steps) == 0 {
		return 0, nil
	}
	step := steps[len(steps)-1]
	path := CheckpointPath(r.o.Dir, step)
	f, err := checkpoint.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if err := r.t.Restore(f); err != nil {
		return 0, fmt.Errorf("train: resume from %s: %w", path, err)
	}
	optSteps, err := strconv.Atoi(f.Metadata["optim_steps"])
	if err != nil {
		return 0, fmt.Errorf("train: %s: bad optim_steps metadata: %w", path, err)
	}
	var state []optim.StateTensor
	for _, st := range r.opt.State() {
		data, _, err := f.Float32("optim/" + st.Name)
		if err != nil {
			return 0, fmt.Errorf("train: resume: %w", err)
		}
		state = append(state, optim.StateTensor{Name: st.Name, Data: data})
	}
	if err := r.opt.LoadState(optSteps, state); err != nil {
		return 0, err
	}
	return step, nil
}

// openMetrics opens metrics.jsonl for appending, first dropping records
// past start (left by a run that went further than its last checkpoint).
func (r *runner) openMetrics(start int) error {
	path := filepath.Join(r.o.Dir, "metrics.jsonl")
	if start == 0 {
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("train: %w", err)
		}
		r.metrics, r.enc = f, json.NewEncoder(f)
		return nil
	}
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("train: %w", err)
	}
	var keep []byte
	for _, line := range strings.SplitAfter(string(old), "\n") {
		var rec struct {
			Step int `json:"step"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Step <= start {
			keep = append(keep, line...)
		}
	}
	if err := os.WriteFile(path, keep, 0o644); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	r.metrics, r.enc = f, json.NewEncoder(f)
	return nil
}

func (r *runner) emit(rec Record) error {
	for _, l := range r.o.Listeners {
		l(rec)
	}
	if err := r.enc.Encode(rec); err != nil {
		return fmt.Errorf("train: metrics: %w", err)
	}
	return nil
}

func (r *runner) loop(ctx context.Context, start int) (Summary, error) {
	o := r.o
	sum := Summary{ResumedAtStep: start}
	began := time.Now()
	lastLoss := math.NaN()
	var evalRes map[string]any
	step := start
	var runErr error
	for step < o.Steps {
		if err := ctx.Err(); err != nil {
			sum.Interrupted = true
			runErr = err
			break
		}
		loss, err := r.t.Step(ctx, step)
		if err != nil {
			if ctx.Err() != nil {
				sum.Interrupted, runErr = true, ctx.Err()
				break
			}
			return sum, err
		}
		if o.ClipNorm > 0 {
			optim.ClipGradNorm(r.params, o.ClipNorm)
		}
		lr := o.Schedule(step)
		r.opt.Step(lr)
		step++
		lastLoss = loss
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return sum, fmt.Errorf("train: loss became %v at step %d (try a lower learning rate)", loss, step)
		}
		rec := Record(nil)
		if step%o.LogEvery == 0 || step == o.Steps {
			rec = Record{"step": step, "loss": loss, "lr": lr}
		}
		if step%o.EvalEvery == 0 || step == o.Steps {
			if o.Eval != nil {
				if evalRes, err = o.Eval(ctx, step); err != nil {
					if ctx.Err() != nil {
						sum.Interrupted, runErr = true, ctx.Err()
						break
					}
					return sum, err
				}
				if rec == nil {
					rec = Record{"step": step, "loss": loss, "lr": lr}
				}
				for k, v := range evalRes {
					rec[k] = v
				}
			}
		}
		if rec != nil {
			el := time.Since(began).Seconds()
			rec["elapsed_s"] = el
			if err := r.emit(rec); err != nil {
				return sum, err
			}
			if o.Progress != nil {
				r.progress(step, start, el, loss, evalRes)
			}
		}
		if step%o.CheckpointEvery == 0 && step != o.Steps {
			if err := r.save(step, true); err != nil {
				return sum, err
			}
		}
	}
	el := time.Since(began).Seconds()
	if o.Progress != nil {
		fmt.Fprintln(o.Progress)
	}
	if err := r.save(step, false); err != nil {
		return sum, err
	}
	sum.Steps = step
	sum.FinalLoss = lastLoss
	sum.FinalEval = evalRes
	sum.WallSeconds = el
	if el > 0 {
		sum.StepsPerSec = float64(step-start) / el
		sum.TokensPerSec = sum.StepsPerSec * float64(r.t.TokensPerStep())
	}
	sum.Checkpoint = CheckpointPath(o.Dir, step)
	return sum, runErr
}

func (r *runner) progress(step, start int, el, loss float64, ev map[string]any) {
	sps := float64(step-start) / math.Max(el, 1e-9)
	eta := float64(r.o.Steps-step) / math.Max(sps, 1e-9)
	line := fmt.Sprintf("\rstep %d/%d  %.1f steps/s  %.0f tok/s  loss %.4f", step, r.o.Steps, sps, sps*float64(r.t.TokensPerStep()), loss)
	if acc, ok := ev["eval_acc"].(float64); ok {
		line += fmt.Sprintf("  eval acc %.3f", acc)
	}
	line += fmt.Sprintf("  ETA %s   ", time.Duration(eta*float64(time.Second)).Round(time.Second))
	io.WriteString(r.o.Progress, line)
}

// save writes the checkpoint after step steps; periodic checkpoints beyond
// KeepCheckpoints are pruned oldest first.
func (r *runner) save(step int, periodic bool) error {
	ts := r.t.Tensors()
	for _, st := range r.opt.State() {
		ts = append(ts, checkpoint.Tensor{Name: "optim/" + st.Name, Shape: []int{len(st.Data)}, Data: st.Data})
	}
	meta := map[string]string{"step": strconv.Itoa(step), "optim_steps": strconv.Itoa(r.opt.Steps())}
	for k, v := range r.o.Metadata {
		if _, ok := meta[k]; !ok {
			meta[k] = v
		}
	}
	if err := checkpoint.WriteFile(CheckpointPath(r.o.Dir, step), ts, meta); err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	if periodic && r.o.KeepCheckpoints > 0 {
		r.kept = append(r.kept, step)
		for len(r.kept) > r.o.KeepCheckpoints {
			os.Remove(CheckpointPath(r.o.Dir, r.kept[0]))
			r.kept = r.kept[1:]
		}
	}
	return nil
}
