package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/mechinterp/workbench/train"
	"github.com/mechinterp/workbench/train/induction"
)

// trainer runs "Train one now": the default induction experiment, one at a
// time, into the runs directory, publishing every record to a broker.
// Every training goroutine is started by start and waited for by shutdown.
type trainer struct {
	dir    string
	budget int64 // bytes the runs folder may hold
	log    *slog.Logger

	mu     sync.Mutex
	jobs   map[string]*job
	order  []string
	closed bool
	wg     sync.WaitGroup
}

func newTrainer(dir string, budget int64, log *slog.Logger) *trainer {
	return &trainer{dir: dir, budget: budget, log: log, jobs: map[string]*job{}}
}

// job is one training started by this server.
type job struct {
	id, dir string
	log     *slog.Logger
	cancel  context.CancelFunc
	done    chan struct{}
	events  *broker

	mu     sync.Mutex
	st     jobStatus
	series []train.Point // induction_max per evaluation, for the phase change
}

// jobStatus is a training's state as the API reports it.
type jobStatus struct {
	ID          string            `json:"id"`
	State       string            `json:"state"` // running, stopping, finished, interrupted or failed
	Step        int               `json:"step"`
	Steps       int               `json:"steps"`
	Started     time.Time         `json:"started"`
	Error       string            `json:"error,omitempty"`
	PhaseChange *phase            `json:"phase_change"`
	Config      induction.Config  `json:"config"`
	Result      *induction.Result `json:"result,omitempty"`
	Events      string            `json:"events"`
}

// trainRequest overrides some of induction.Default() (all optional).
type trainRequest struct {
	Steps     *int     `json:"steps"`
	Seed      *uint64  `json:"seed"`
	EvalEvery *int     `json:"eval_every"`
	Batch     *int     `json:"batch"`
	LR        *float64 `json:"lr"`
}

// Bounds on trainRequest, so that a request cannot ask for hours of work,
// gigabytes of memory or a flood of evaluations and checkpoints.
const (
	maxTrainSteps     = 100_000
	maxTrainBatch     = 1024
	maxTrainSequences = 100_000 * 64 // steps × batch: the default batch for the most steps
	minTrainEvalEvery = 10
	maxTrainEvals     = 1000 // steps / eval_every: evaluations (and checkpoints) in one run
	maxTrainLR        = 1.0
)

// config applies the overrides and validates the result; a value out of
// bounds is a 400 naming the bound.
func (req trainRequest) config() (induction.Config, error) {
	c := induction.Default()
	if req.Steps != nil {
		if *req.Steps < 1 || *req.Steps > maxTrainSteps {
			return c, errorf(http.StatusBadRequest, "web: steps=%d: want 1 to %d", *req.Steps, maxTrainSteps)
		}
		c.Steps = *req.Steps
	}
	if req.Seed != nil {
		c.Seed = *req.Seed
	}
	if req.EvalEvery != nil {
		if *req.EvalEvery < minTrainEvalEvery || *req.EvalEvery > maxTrainSteps {
			return c, errorf(http.StatusBadRequest, "web: eval_every=%d: want %d to %d (each evaluation writes a checkpoint)", *req.EvalEvery, minTrainEvalEvery, maxTrainSteps)
		}
		c.EvalEvery = *req.EvalEvery
	}
	if req.Batch != nil {
		if *req.Batch < 1 || *req.Batch > maxTrainBatch {
			return c, errorf(http.StatusBadRequest, "web: batch=%d: want 1 to %d", *req.Batch, maxTrainBatch)
		}
		c.Batch = *req.Batch
	}
	if req.LR != nil {
		if !(*req.LR > 0 && *req.LR <= maxTrainLR) {
			return c, errorf(http.StatusBadRequest, "web: lr=%g: want a learning rate in (0, %g]", *req.LR, maxTrainLR)
		}
		c.LR = *req.LR
	}
	if n := c.Steps * c.Batch; n > maxTrainSequences {
		return c, errorf(http.StatusBadRequest, "web: steps × batch = %d × %d = %d sequences: want at most %d", c.Steps, c.Batch, n, maxTrainSequences)
	}
	if n := c.Steps / c.EvalEvery; n > maxTrainEvals {
		return c, errorf(http.StatusBadRequest, "web: steps / eval_every = %d / %d = %d evaluations: want at most %d (raise eval_every)", c.Steps, c.EvalEvery, n, maxTrainEvals)
	}
	if err := c.Validate(); err != nil {
		return c, badRequest(err)
	}
	return c, nil
}

// keepCheckpoints is the number of newest checkpoints a dashboard training
// keeps while it runs, besides the pair around the phase change.
const keepCheckpoints = 3

// estimateRunBytes bounds the disk a training of cfg uses with pruning:
// keepCheckpoints, the one just written, the phase-change pair and the
// final one (weights and two AdamW moments each), the model, and the
// metrics (a short record every 10 steps, a long one per evaluation).
func estimateRunBytes(cfg induction.Config) int64 {
	params := int64(cfg.Model().NumParams())
	checkpoint := 3*4*params + 64<<10
	evals := int64(cfg.Steps/cfg.EvalEvery + 1)
	return (keepCheckpoints+4)*checkpoint + 4*params + 64<<10 + evals*(8<<10) + int64(cfg.Steps/10+1)*256
}

// dirBytes returns the total size of the regular files under dir (a
// missing dir holds none).
func dirBytes(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err == nil {
			n += info.Size()
		}
		return nil
	})
	return n, err
}

// checkBudget refuses a training of cfg with a 507 when the runs folder
// would grow past the budget.
func (t *trainer) checkBudget(cfg induction.Config) error {
	used, err := dirBytes(t.dir)
	if err != nil {
		return fmt.Errorf("web: runs folder: %s", relMessage(t.dir, err))
	}
	if need := estimateRunBytes(cfg); used+need > t.budget {
		return errorf(http.StatusInsufficientStorage, "web: the runs folder holds %s and this training needs up to %s, over its budget of %s: delete old runs or raise serve --runs-budget", formatBytes(used), formatBytes(need), formatBytes(t.budget))
	}
	return nil
}

// formatBytes writes n with a binary unit ("1.5 GiB").
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

// start begins a training: 409 if one is running, 503 after shutdown, 507
// if the runs folder is over its budget.
func (t *trainer) start(cfg induction.Config) (*job, error) {
	if err := t.checkBudget(cfg); err != nil { // before the lock: it walks the runs folder
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, errorf(http.StatusServiceUnavailable, "web: the server is shutting down")
	}
	for _, j := range t.jobs {
		if s := j.status(); s.State == "running" || s.State == "stopping" {
			return nil, errorf(http.StatusConflict, "web: training %q is running; stop it first (POST /api/train/%s/stop)", j.id, j.id)
		}
	}
	t.forgetFinished(maxFinishedJobs - 1)
	id := "induction-" + time.Now().UTC().Format("20060102-150405")
	for i := 2; t.jobs[id] != nil || exists(filepath.Join(t.dir, id)); i++ {
		id = fmt.Sprintf("induction-%s-%d", time.Now().UTC().Format("20060102-150405"), i)
	}
	ctx, cancel := context.WithCancel(context.Background())
	j := &job{id: id, dir: filepath.Join(t.dir, id), log: t.log, cancel: cancel, done: make(chan struct{}), events: newBroker()}
	j.st = jobStatus{ID: id, State: "running", Steps: cfg.Steps, Started: time.Now().UTC(), Config: cfg, Events: "/api/train/" + id + "/events"}
	t.jobs[id] = j
	t.order = append(t.order, id)
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		defer cancel()
		t.log.Info("training started", "id", id, "dir", j.dir, "steps", cfg.Steps)
		res, err := induction.Train(ctx, cfg, j.dir, induction.Options{Listeners: []func(train.Record){j.onRecord}})
		j.finish(res, err)
		t.log.Info("training ended", "id", id, "state", j.status().State, "steps", res.Steps, "err", err)
	}()
	return j, nil
}

// maxFinishedJobs bounds the finished trainings whose status the server
// keeps (their runs stay on disk and in /api/runs).
const maxFinishedJobs = 32

// forgetFinished drops the oldest finished jobs until at most keep remain.
// The caller holds t.mu.
func (t *trainer) forgetFinished(keep int) {
	finished := 0
	for _, id := range t.order {
		if t.jobs[id].finished() {
			finished++
		}
	}
	order := t.order[:0]
	for _, id := range t.order {
		if finished > keep && t.jobs[id].finished() {
			delete(t.jobs, id)
			finished--
			continue
		}
		order = append(order, id)
	}
	t.order = order
}

// finished reports whether the job has ended.
func (j *job) finished() bool {
	select {
	case <-j.done:
		return true
	default:
		return false
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, os.ErrNotExist)
}

// onRecord publishes one metrics record (on the training goroutine: it
// must be quick, and is: one JSON encoding and non-blocking sends).
func (j *job) onRecord(rec train.Record) {
	data, err := json.Marshal(rec)
	if err != nil {
		return
	}
	j.mu.Lock()
	step, _ := rec["step"].(int)
	j.st.Step = step
	var changed *phase
	v, evaluated := rec["induction_max"].(float64)
	if evaluated {
		j.series = append(j.series, train.Point{Step: step, Value: v})
		if before, at, ok := train.PhaseChange(j.series, phaseMinRise); ok {
			p := &phase{before, at}
			if j.st.PhaseChange == nil || *j.st.PhaseChange != *p {
				j.st.PhaseChange, changed = p, p
			}
		}
	}
	pc := j.st.PhaseChange
	j.mu.Unlock()
	if evaluated {
		j.prune(pc)
	}
	j.events.publish("record", data)
	if changed != nil {
		b, _ := json.Marshal(changed)
		j.events.publish("phase", b)
	}
}

// prune removes the run's checkpoints but the keepCheckpoints newest and
// the pair around the phase change pc (nil: none yet), so that a long run
// with frequent evaluations keeps a bounded number on disk. It runs on the
// training goroutine, between checkpoint writes (train/induction prunes
// the same way, once, when the run ends). A failure is logged: the
// training goes on.
func (j *job) prune(pc *phase) {
	steps, err := train.Checkpoints(j.dir)
	if err == nil && len(steps) > keepCheckpoints {
		keep := steps[len(steps)-keepCheckpoints:]
		if pc != nil {
			keep = append(keep, pc.Before, pc.At)
		}
		err = train.Prune(j.dir, keep)
	}
	if err != nil {
		j.log.Warn("pruning checkpoints", "id", j.id, "err", err)
	}
}

// finish records the outcome, publishes it as the "done" event and ends
// the stream.
func (j *job) finish(res induction.Result, err error) {
	j.mu.Lock()
	switch {
	case err != nil:
		j.st.State, j.st.Error = "failed", err.Error()
	case res.Interrupted:
		j.st.State = "interrupted"
	default:
		j.st.State = "finished"
	}
	if err == nil {
		j.st.Result, j.st.Step = &res, res.Steps
		if res.PhaseChangeStep != nil && j.st.PhaseChange == nil {
			j.st.PhaseChange = &phase{*res.PhaseChangeStep, *res.PhaseChangeStep}
		}
	}
	st := j.st
	j.mu.Unlock()
	b, _ := json.Marshal(st)
	j.events.publish("done", b)
	j.events.close()
	close(j.done)
}

// status returns a copy of the job's state.
func (j *job) status() jobStatus {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.st
}

// stop cancels the job; it saves a checkpoint and ends shortly.
func (j *job) stop() {
	j.mu.Lock()
	if j.st.State == "running" {
		j.st.State = "stopping"
	}
	j.mu.Unlock()
	j.cancel()
}

// get returns the job called id, or nil.
func (t *trainer) get(id string) *job {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.jobs[id]
}

// status returns job id's state, or nil if this server did not start it.
func (t *trainer) status(id string) *jobStatus {
	j := t.get(id)
	if j == nil {
		return nil
	}
	s := j.status()
	return &s
}

// list returns every job's state, oldest first.
func (t *trainer) list() []jobStatus {
	t.mu.Lock()
	jobs := make([]*job, len(t.order))
	for i, id := range t.order {
		jobs[i] = t.jobs[id]
	}
	t.mu.Unlock()
	out := make([]jobStatus, len(jobs))
	for i, j := range jobs {
		out[i] = j.status()
	}
	return out
}

// shutdown refuses new trainings, stops the running ones and waits for
// them (each writes its checkpoint) until ctx is done.
func (t *trainer) shutdown(ctx context.Context) error {
	t.mu.Lock()
	t.closed = true
	for _, j := range t.jobs {
		j.stop()
	}
	t.mu.Unlock()
	done := make(chan struct{})
	go func() {
		t.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("web: trainings still stopping: %w", ctx.Err())
	}
}
