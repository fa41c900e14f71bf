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

// EventsKey is a key of Options.Eval's result whose value, a []Record,
// Run writes as lines of their own after the evaluation's record (a phase
// change, say) instead of merging it in.
const EventsKey = "events"

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
	// Config, if set, is the training configuration as a JSON object: Run
	// writes it to train.json once a resume has been validated (a failed
	// resume leaves the folder as it was), and a resume compares it with
	// the run's recorded one.
	Config json.RawMessage
	// MayChange lists the top-level fields of Config that a resume may
	// change freely (the step count, the worker count).
	MayChange []string
	// AllowConfigChange lets a resume change other fields of Config; the
	// changes are recorded in metrics.jsonl as a record with "event":
	// "config_change". Without it such a resume is a *ConfigChangeError.
	AllowConfigChange bool
	// Lock, if set, is the caller's lock on Dir (from LockDir), held for
	// longer than Run (to write the model and summary after it). If nil,
	// Run locks Dir itself for its own duration.
	Lock *Lock
	// Log, if not nil, receives one line per thing Run did to the run
	// folder on its own: leftover temporary files removed, a corrupt
	// checkpoint set aside.
	Log io.Writer
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
	// AlreadyFinished is set when a resume found the run complete (its
	// newest checkpoint at Steps): Run then did nothing and wrote nothing;
	// FinalLoss and FinalEval are unset.
	AlreadyFinished bool `json:"-"`
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
//
// Run holds o.Dir's Lock (o.Lock, or its own) throughout, so a second
// writer gets an error wrapping ErrLocked. It removes temporary files a
// killed writer left in the folder. With o.Resume it validates before it
// writes anything: it restores the newest readable checkpoint (a corrupt
// one is renamed *.corrupt and the previous one used, saying so on o.Log),
// refuses a checkpoint past o.Steps and, unless o.AllowConfigChange, a
// changed o.Config; a run already at o.Steps is left untouched and
// reported with AlreadyFinished.
func Run(ctx context.Context, t Trainable, opt optim.Optimizer, o Options) (Summary, error) {
	if err := o.defaults(); err != nil {
		return Summary{}, err
	}
	if o.Lock == nil {
		l, err := LockDir(o.Dir)
		if err != nil {
			return Summary{}, err
		}
		defer l.Unlock()
	} else if o.Lock.f == nil || !sameDir(o.Lock.dir, o.Dir) {
		return Summary{}, fmt.Errorf("train: Options.Lock does not hold %s", o.Dir)
	}
	ckDir := filepath.Join(o.Dir, "checkpoints")
	if err := os.MkdirAll(ckDir, 0o755); err != nil {
		return Summary{}, fmt.Errorf("train: %w", err)
	}
	r := &runner{t: t, opt: opt, o: o, params: t.Params()}
	for _, d := range []string{o.Dir, ckDir} {
		removed, err := removeTemps(d)
		if err != nil {
			return Summary{}, err
		}
		for _, name := range removed {
			r.logf("removed %s, a temporary file left by an interrupted write", filepath.Join(d, name))
		}
	}
	start := 0
	var changes []ConfigChange
	if o.Resume {
		var corrupt []int
		var err error
		if start, corrupt, err = r.resume(); err != nil {
			return Summary{}, err
		}
		if start > o.Steps {
			return Summary{}, fmt.Errorf("train: resume: the run's newest checkpoint is at step %d, past the %d steps asked for (ask for at least %d)", start, o.Steps, start)
		}
		if changes, err = r.checkConfig(start); err != nil {
			return Summary{}, err
		}
		for _, s := range corrupt { // validated: now set the corrupt ones aside
			p := CheckpointPath(o.Dir, s)
			if err := os.Rename(p, p+".corrupt"); err != nil {
				return Summary{}, fmt.Errorf("train: %w", err)
			}
		}
		if start == o.Steps && start > 0 {
			return Summary{Steps: start, ResumedAtStep: start, Checkpoint: CheckpointPath(o.Dir, start), AlreadyFinished: true}, nil
		}
	}
	if o.Config != nil {
		if err := WriteJSON(filepath.Join(o.Dir, TrainConfigFile), o.Config); err != nil {
			return Summary{}, err
		}
	}
	if err := r.openMetrics(start); err != nil {
		return Summary{}, err
	}
	defer r.metrics.Close()
	if len(changes) > 0 {
		if err := r.emit(Record{"step": start, "event": "config_change", "changes": changes}); err != nil {
			return Summary{}, err
		}
	}
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

func (r *runner) logf(format string, args ...any) {
	if r.o.Log != nil {
		fmt.Fprintf(r.o.Log, "train: "+format+"\n", args...)
	}
}

// resume restores the newest checkpoint that reads back whole and returns
// its step (0 if there is none) and the steps of newer, corrupt ones.
func (r *runner) resume() (step int, corrupt []int, err error) {
	steps, err := Checkpoints(r.o.Dir)
	if err != nil {
		return 0, nil, fmt.Errorf("train: %w", err)
	}
	for i := len(steps) - 1; i >= 0; i-- {
		err := r.restore(steps[i])
		if err == nil {
			if len(corrupt) > 0 {
				r.logf("resuming from step %d instead", steps[i])
			}
			return steps[i], corrupt, nil
		}
		r.logf("checkpoint %s is unreadable, setting it aside as *.corrupt: %v", CheckpointPath(r.o.Dir, steps[i]), err)
		corrupt = append(corrupt, steps[i])
	}
	if len(corrupt) > 0 {
		return 0, nil, fmt.Errorf("train: resume: no readable checkpoint in %s (%d corrupt)", filepath.Join(r.o.Dir, "checkpoints"), len(corrupt))
	}
	return 0, nil, nil
}

// restore loads the checkpoint after step steps into the trainable and the
// optimizer.
func (r *runner) restore(step int) error {
	path := CheckpointPath(r.o.Dir, step)
	f, err := checkpoint.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if got := f.Metadata["step"]; got != strconv.Itoa(step) {
		return fmt.Errorf("train: %s: metadata step %q, want %d", path, got, step)
	}
	if err := r.t.Restore(f); err != nil {
		return fmt.Errorf("train: resume from %s: %w", path, err)
	}
	optSteps, err := strconv.Atoi(f.Metadata["optim_steps"])
	if err != nil {
		return fmt.Errorf("train: %s: bad optim_steps metadata: %w", path, err)
	}
	var state []optim.StateTensor
	for _, st := range r.opt.State() {
		data, _, err := f.Float32("optim/" + st.Name)
		if err != nil {
			return fmt.Errorf("train: resume: %w", err)
		}
		state = append(state, optim.StateTensor{Name: st.Name, Data: data})
	}
	return r.opt.LoadState(optSteps, state)
}

// checkConfig compares o.Config with the run's recorded configuration when
// resuming from a checkpoint at start > 0, and returns the changes allowed
// by AllowConfigChange.
func (r *runner) checkConfig(start int) ([]ConfigChange, error) {
	if r.o.Config == nil || start == 0 {
		return nil, nil
	}
	old, name, err := ReadTrainConfig(r.o.Dir)
	if err != nil || old == nil {
		return nil, err
	}
	changes, err := diffConfig(old, r.o.Config, r.o.MayChange)
	if err != nil || len(changes) == 0 {
		return nil, err
	}
	if !r.o.AllowConfigChange {
		return nil, &ConfigChangeError{File: name, Changes: changes}
	}
	return changes, nil
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
		var events []Record
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
					if k != EventsKey {
						rec[k] = v
					}
				}
				events, _ = evalRes[EventsKey].([]Record)
			}
		}
		if rec != nil {
			el := time.Since(began).Seconds()
			rec["elapsed_s"] = el
			if err := r.emit(rec); err != nil {
				return sum, err
			}
			for _, ev := range events {
				if err := r.emit(ev); err != nil {
					return sum, err
				}
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
