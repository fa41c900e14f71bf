package induction

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/mechinterp/workbench/checkpoint"
	"github.com/mechinterp/workbench/data"
	"github.com/mechinterp/workbench/optim"
	"github.com/mechinterp/workbench/train"
	"github.com/mechinterp/workbench/transformer"
)

// Result is a finished run's summary (the CLI's --json output).
type Result struct {
	StepsToAcc90         *int        `json:"steps_to_acc90"`
	StepsToAcc99         *int        `json:"steps_to_acc99"`
	FinalEvalAcc         float64     `json:"final_eval_acc"`
	FinalEvalLoss        float64     `json:"final_eval_loss"`
	ProbeAcc             float64     `json:"probe_acc"`
	WallSeconds          float64     `json:"wall_seconds"`
	TrainSeconds         float64     `json:"train_seconds"` // wall time minus evaluation
	TokensPerSecond      float64     `json:"tokens_per_second"`
	InductionScore       [][]float64 `json:"induction_score"`
	PrevTokenScore       [][]float64 `json:"prev_token_score"`
	KCompositionMax      float64     `json:"k_composition_max"`
	KCompositionBaseline float64     `json:"k_composition_baseline"`
	PhaseChangeStep      *int        `json:"phase_change_step"`
	LossBumpStep         int         `json:"loss_bump_step,omitempty"`
	Steps                int         `json:"steps"`
	Interrupted          bool        `json:"interrupted"`
	Checkpoint           string      `json:"checkpoint"`
	Model                string      `json:"model"` // the final weights alone, without optimizer state
	Dir                  string      `json:"dir"`
	// AlreadyFinished is set when a resume found the run complete and
	// changed nothing; the rest is the run's summary.json.
	AlreadyFinished bool `json:"-"`

	phaseBefore *int // the evaluation step before the phase change
}

// Options are the run's plumbing, not its science.
type Options struct {
	Resume bool
	// AllowConfigChange lets a resume change fields of the config other
	// than steps, workers and stop_at_acc (recorded in metrics.jsonl).
	AllowConfigChange bool
	Progress          io.Writer            // a terminal, or nil
	Listeners         []func(train.Record) // telemetry subscribers (the dashboard)
	// Log, if not nil, receives a line for each repair of the run folder
	// (leftover temporary files removed, a corrupt checkpoint set aside).
	Log io.Writer
}

// Filler is a sequence task: it fills a batch from an rng (data.Induction,
// data.TextLM).
type Filler interface {
	Fill(dst *data.Batch, rng *rand.Rand)
}

// StepFiller is a Filler whose batches depend on the step too (a data
// curriculum): the Trainer calls FillStep instead of Fill when its task
// has it.
type StepFiller interface {
	Filler
	FillStep(dst *data.Batch, rng *rand.Rand, step int)
}

// Trainer adapts a transformer and a sequence task to train.Trainable:
// step s trains on the batch the task fills from an rng seeded by (seed,
// s+1), so that a resumed run sees the same data, through a data-parallel
// transformer.Parallel. Close stops its workers.
type Trainer struct {
	m      *transformer.Model
	par    *transformer.Parallel
	g      *transformer.Params
	params []optim.Param
	task   Filler
	batch  *data.Batch
	pcg    *rand.PCG
	rng    *rand.Rand
	seed   uint64
}

// NewTrainer returns a Trainer of m on task with batches of batch
// sequences of seqLen tokens split into shards run by workers goroutines
// (the result does not depend on workers), and AdamW with adam over m's
// parameters. The error is transformer.NewParallel's or the optimizer's.
func NewTrainer(m *transformer.Model, task Filler, batch, seqLen, shards, workers int, seed uint64, adam optim.AdamConfig) (*Trainer, optim.Optimizer, error) {
	par, err := m.NewParallel(batch, seqLen, shards, workers)
	if err != nil {
		return nil, nil, err
	}
	t := &Trainer{m: m, par: par, g: m.NewGrads(), task: task, batch: data.NewBatch(batch, seqLen), seed: seed}
	t.pcg = rand.NewPCG(0, 0)
	t.rng = rand.New(t.pcg)
	for _, v := range m.ParamViews(t.g) {
		t.params = append(t.params, optim.Param{Name: v.Name, Data: v.Data, Grad: v.Grad, Decay: v.Decay})
	}
	o, err := optim.NewAdamW(t.params, adam)
	if err != nil {
		par.Close()
		return nil, nil, err
	}
	return t, o, nil
}

// Model returns the model being trained.
func (t *Trainer) Model() *transformer.Model { return t.m }

// Close stops the data-parallel workers.
func (t *Trainer) Close() { t.par.Close() }

// Params implements train.Trainable.
func (t *Trainer) Params() []optim.Param { return t.params }

// TokensPerStep implements train.Trainable: batch × seqLen.
func (t *Trainer) TokensPerStep() int { return t.batch.N * t.batch.SeqLen }

// Step implements train.Trainable.
func (t *Trainer) Step(ctx context.Context, s int) (float64, error) {
	// Step s's batch depends only on (seed, s): exact resume.
	t.pcg.Seed(t.seed, uint64(s)+1)
	if sf, ok := t.task.(StepFiller); ok {
		sf.FillStep(t.batch, t.rng, s)
	} else {
		t.task.Fill(t.batch, t.rng)
	}
	return t.par.Step(ctx, t.batch.Tokens, t.batch.Targets, t.batch.Weights, t.g)
}

// Tensors implements train.Trainable: the model's state dict.
func (t *Trainer) Tensors() []checkpoint.Tensor { return t.m.StateDict() }

// Restore implements train.Trainable.
func (t *Trainer) Restore(f *checkpoint.File) error { return t.m.LoadStateDict(f) }

// evalSeed and probeSeed keep the held-out sets apart from training data,
// which is seeded by (seed, step+1).
const (
	evalSeed  = 0x5eed_e7a1
	probeSeed = 0x5eed_9806
)

// Train runs the experiment into dir and returns its summary. train.json
// (the config), metrics.jsonl, checkpoints/, model.safetensors (the final
// weights with their model config) and summary.json are in dir, which Train
// holds locked (train.LockDir) throughout. The summary is built from the
// whole of metrics.jsonl, so a resumed run reports what an uninterrupted
// one would. Resuming a finished run changes nothing and returns its
// summary with AlreadyFinished set. Cancelling ctx stops it with a final
// checkpoint (Result.Interrupted set, error nil).
func Train(ctx context.Context, cfg Config, dir string, opt Options) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	lock, err := train.LockDir(dir)
	if err != nil {
		return Result{}, err
	}
	defer lock.Unlock()
	t, o, err := newTrainable(cfg)
	if err != nil {
		return Result{}, err
	}
	defer t.Close()
	m := t.m
	ev, err := newEvaluator(m, cfg)
	if err != nil {
		return Result{}, err
	}
	cfgJSON, _ := json.Marshal(cfg)
	stopCtx, stop := context.WithCancel(ctx)
	defer stop()
	var evalSeconds float64
	sched := optim.Constant(cfg.LR)
	if cfg.Warmup > 0 {
		sched = optim.LinearWarmup(cfg.LR, cfg.Warmup)
	}
	sum, err := train.Run(stopCtx, t, o, train.Options{
		Steps: cfg.Steps, LogEvery: 10, EvalEvery: cfg.EvalEvery, CheckpointEvery: cfg.EvalEvery,
		Schedule: sched, ClipNorm: cfg.ClipNorm, Dir: dir, Resume: opt.Resume,
		// A resume may change what does not change the steps already taken.
		Config: cfgJSON, MayChange: []string{"steps", "workers", "stop_at_acc"}, AllowConfigChange: opt.AllowConfigChange, Lock: lock, Log: opt.Log,
		Metadata: map[string]string{transformer.ConfigMetadataKey: string(m.Cfg.JSON()), "induction": string(cfgJSON)},
		Progress: opt.Progress,
		Eval: func(ctx context.Context, step int) (map[string]any, error) {
			tel, secs, err := ev.run(ctx)
			evalSeconds += secs
			if err != nil {
				return nil, err
			}
			if cfg.StopAtAcc > 0 && tel.Acc >= cfg.StopAtAcc {
				stop()
			}
			return tel.record(), nil
		},
		Listeners: opt.Listeners,
	})
	earlyStop := err != nil && ctx.Err() == nil && stopCtx.Err() != nil
	if err != nil && !sum.Interrupted {
		return Result{}, err
	}
	if sum.AlreadyFinished {
		if res, err := readResult(dir); err == nil {
			res.AlreadyFinished = true
			return res, nil
		}
		// No readable summary.json: the run ended before writing it; the
		// final checkpoint is restored, so finish the job below.
	}
	res, err := summarize(dir, sum.Steps)
	if err != nil {
		return res, err
	}
	res.AlreadyFinished = sum.AlreadyFinished
	res.Interrupted = sum.Interrupted && !earlyStop
	res.Steps, res.Checkpoint, res.Dir = sum.Steps, sum.Checkpoint, dir
	res.WallSeconds = sum.WallSeconds
	res.TrainSeconds = sum.WallSeconds - evalSeconds
	if res.TrainSeconds > 0 && sum.ResumedAtStep < sum.Steps {
		res.TokensPerSecond = float64((sum.Steps-sum.ResumedAtStep)*t.TokensPerStep()) / res.TrainSeconds
	}
	res.Model = filepath.Join(dir, transformer.ModelFile)
	if err := m.Save(res.Model, map[string]string{"induction": string(cfgJSON), "step": fmt.Sprint(sum.Steps)}); err != nil {
		return res, err
	}
	// An interrupted run keeps every checkpoint: the phase change it will
	// find once resumed and finished may be later than the one so far.
	if !res.Interrupted {
		keep := []int{sum.Steps}
		if res.phaseBefore != nil {
			keep = append(keep, *res.phaseBefore, *res.PhaseChangeStep)
		}
		if err := train.Prune(dir, keep); err != nil {
			return res, err
		}
	}
	if err := train.WriteJSON(filepath.Join(dir, train.SummaryFile), res); err != nil {
		return res, fmt.Errorf("induction: %w", err)
	}
	return res, nil
}

// readResult reads dir's summary.json.
func readResult(dir string) (Result, error) {
	var res Result
	b, err := os.ReadFile(filepath.Join(dir, train.SummaryFile))
	if err != nil {
		return res, err
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return res, fmt.Errorf("induction: %s: %w", train.SummaryFile, err)
	}
	return res, nil
}

// metricsRecord is what the summary reads from a line of metrics.jsonl.
type metricsRecord struct {
	Step         int      `json:"step"`
	Event        string   `json:"event"`
	Loss         *float64 `json:"loss"`
	EvalAcc      *float64 `json:"eval_acc"`
	InductionMax *float64 `json:"induction_max"`
}

// finalEval is the last evaluation's telemetry as metrics.jsonl holds it.
type finalEval struct {
	EvalAcc              float64     `json:"eval_acc"`
	EvalLoss             float64     `json:"eval_loss"`
	ProbeAcc             float64     `json:"probe_acc"`
	InductionScore       [][]float64 `json:"induction_score"`
	PrevTokenScore       [][]float64 `json:"prev_token_score"`
	KCompositionMax      float64     `json:"k_composition_max"`
	KCompositionBaseline float64     `json:"k_composition_baseline"`
}

// summarize builds the science of a run's summary from the whole of dir's
// metrics.jsonl up to step steps: the steps to 90% and 99% accuracy, the
// phase change, the loss bump and the last evaluation's telemetry.
func summarize(dir string, steps int) (Result, error) {
	var res Result
	var series, lossSeries []train.Point
	var last []byte
	err := train.ScanMetrics(dir, func(line []byte) error {
		var r metricsRecord
		if json.Unmarshal(line, &r) != nil || r.Event != "" || r.Step > steps {
			return nil // a torn line, an event, or past the checkpoint
		}
		if r.Loss != nil {
			lossSeries = append(lossSeries, train.Point{Step: r.Step, Value: *r.Loss})
		}
		if r.EvalAcc == nil {
			return nil
		}
		if r.InductionMax != nil {
			series = append(series, train.Point{Step: r.Step, Value: *r.InductionMax})
		}
		if res.StepsToAcc90 == nil && *r.EvalAcc >= 0.9 {
			res.StepsToAcc90 = intPtr(r.Step)
		}
		if res.StepsToAcc99 == nil && *r.EvalAcc >= 0.99 {
			res.StepsToAcc99 = intPtr(r.Step)
		}
		last = append(last[:0], line...)
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("induction: %w", err)
	}
	if last != nil {
		var f finalEval
		if err := json.Unmarshal(last, &f); err != nil {
			return res, fmt.Errorf("induction: %s: %w", train.MetricsFile, err)
		}
		res.FinalEvalAcc, res.FinalEvalLoss, res.ProbeAcc = f.EvalAcc, f.EvalLoss, f.ProbeAcc
		res.InductionScore, res.PrevTokenScore = f.InductionScore, f.PrevTokenScore
		res.KCompositionMax, res.KCompositionBaseline = f.KCompositionMax, f.KCompositionBaseline
	}
	if before, at, ok := train.PhaseChange(series, 0.2); ok {
		res.PhaseChangeStep, res.phaseBefore = intPtr(at), intPtr(before)
	}
	res.LossBumpStep, _ = train.LossBump(lossSeries)
	return res, nil
}

func intPtr(i int) *int { return &i }

// newTrainable builds the model, the task's Trainer and AdamW for cfg.
// The caller closes the Trainer.
func newTrainable(cfg Config) (*Trainer, optim.Optimizer, error) {
	m, err := transformer.New(cfg.Model())
	if err != nil {
		return nil, nil, err
	}
	adam := optim.AdamConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: cfg.WeightDecay}
	return NewTrainer(m, cfg.Task(), cfg.Batch, cfg.Task().SeqLen(), cfg.Shards, cfg.Workers, cfg.Seed, adam)
}
