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
}

// Options are the run's plumbing, not its science.
type Options struct {
	Resume    bool
	Progress  io.Writer            // a terminal, or nil
	Listeners []func(train.Record) // telemetry subscribers (the dashboard)
}

// trainable adapts the transformer and the task to train.Trainable.
type trainable struct {
	m      *transformer.Model
	par    *transformer.Parallel
	g      *transformer.Params
	params []optim.Param
	task   data.Induction
	batch  *data.Batch
	pcg    *rand.PCG
	rng    *rand.Rand
	seed   uint64
}

func (t *trainable) Params() []optim.Param { return t.params }
func (t *trainable) TokensPerStep() int    { return t.batch.N * t.batch.SeqLen }

func (t *trainable) Step(ctx context.Context, s int) (float64, error) {
	// Step s's batch depends only on (seed, s): exact resume.
	t.pcg.Seed(t.seed, uint64(s)+1)
	t.task.Fill(t.batch, t.rng)
	return t.par.Step(ctx, t.batch.Tokens, t.batch.Targets, t.batch.Weights, t.g)
}

func (t *trainable) Tensors() []checkpoint.Tensor     { return t.m.StateDict() }
func (t *trainable) Restore(f *checkpoint.File) error { return t.m.LoadStateDict(f) }

// evalSeed and probeSeed keep the held-out sets apart from training data,
// which is seeded by (seed, step+1).
const (
	evalSeed  = 0x5eed_e7a1
	probeSeed = 0x5eed_9806
)

// Train runs the experiment into dir and returns its summary. config.json,
// metrics.jsonl, checkpoints/, model.safetensors (the final weights with
// their config) and summary.json are in dir. Cancelling ctx
// stops it with a final checkpoint (Result.Interrupted set, error nil).
func Train(ctx context.Context, cfg Config, dir string, opt Options) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	t, o, err := newTrainable(cfg)
	if err != nil {
		return Result{}, err
	}
	defer t.par.Close()
	m := t.m
	ev, err := newEvaluator(m, cfg)
	if err != nil {
		return Result{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Result{}, fmt.Errorf("induction: %w", err)
	}
	cfgJSON, _ := json.MarshalIndent(cfg, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "config.json"), append(cfgJSON, '\n'), 0o644); err != nil {
		return Result{}, fmt.Errorf("induction: %w", err)
	}

	var res Result
	var series, lossSeries []train.Point
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
		Metadata: map[string]string{transformer.ConfigMetadataKey: string(m.Cfg.JSON()), "induction": string(cfgJSON)},
		Progress: opt.Progress,
		Eval: func(ctx context.Context, step int) (map[string]any, error) {
			tel, secs, err := ev.run(ctx)
			evalSeconds += secs
			if err != nil {
				return nil, err
			}
			series = append(series, train.Point{Step: step, Value: tel.inductionMax()})
			if res.StepsToAcc90 == nil && tel.Acc >= 0.9 {
				res.StepsToAcc90 = intPtr(step)
			}
			if res.StepsToAcc99 == nil && tel.Acc >= 0.99 {
				res.StepsToAcc99 = intPtr(step)
			}
			if cfg.StopAtAcc > 0 && tel.Acc >= cfg.StopAtAcc {
				stop()
			}
			return tel.record(), nil
		},
		Listeners: append([]func(train.Record){func(r train.Record) {
			if l, ok := r["loss"].(float64); ok {
				lossSeries = append(lossSeries, train.Point{Step: r["step"].(int), Value: l})
			}
		}}, opt.Listeners...),
	})
	earlyStop := err != nil && ctx.Err() == nil && stopCtx.Err() != nil
	if err != nil && !sum.Interrupted {
		return res, err
	}
	res.Interrupted = sum.Interrupted && !earlyStop
	res.Steps, res.Checkpoint, res.Dir = sum.Steps, sum.Checkpoint, dir
	res.WallSeconds = sum.WallSeconds
	res.TrainSeconds = sum.WallSeconds - evalSeconds
	if res.TrainSeconds > 0 && sum.ResumedAtStep < sum.Steps {
		res.TokensPerSecond = float64((sum.Steps-sum.ResumedAtStep)*t.TokensPerStep()) / res.TrainSeconds
	}
	if sum.FinalEval != nil {
		res.FinalEvalAcc, _ = sum.FinalEval["eval_acc"].(float64)
		res.FinalEvalLoss, _ = sum.FinalEval["eval_loss"].(float64)
		res.ProbeAcc, _ = sum.FinalEval["probe_acc"].(float64)
		res.InductionScore, _ = sum.FinalEval["induction_score"].([][]float64)
		res.PrevTokenScore, _ = sum.FinalEval["prev_token_score"].([][]float64)
		res.KCompositionMax, _ = sum.FinalEval["k_composition_max"].(float64)
		res.KCompositionBaseline, _ = sum.FinalEval["k_composition_baseline"].(float64)
	}
	res.Model = filepath.Join(dir, "model.safetensors")
	if err := m.Save(res.Model, map[string]string{"induction": string(cfgJSON), "step": fmt.Sprint(sum.Steps)}); err != nil {
		return res, err
	}
	keep := []int{sum.Steps}
	if before, at, ok := train.PhaseChange(series, 0.2); ok {
		res.PhaseChangeStep = intPtr(at)
		keep = append(keep, before, at)
	}
	res.LossBumpStep, _ = train.LossBump(lossSeries)
	if err := train.Prune(dir, keep); err != nil {
		return res, err
	}
	out, _ := json.MarshalIndent(res, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "summary.json"), append(out, '\n'), 0o644); err != nil {
		return res, fmt.Errorf("induction: %w", err)
	}
	return res, nil
}

func intPtr(i int) *int { return &i }

// newTrainable builds the model, its data-parallel evaluator, the task and
// AdamW for cfg. The caller closes t.par.
func newTrainable(cfg Config) (*trainable, optim.Optimizer, error) {
	m, err := transformer.New(cfg.Model())
	if err != nil {
		return nil, nil, err
	}
	task := cfg.Task()
	par, err := m.NewParallel(cfg.Batch, task.SeqLen(), cfg.Shards, cfg.Workers)
	if err != nil {
		return nil, nil, err
	}
	t := &trainable{m: m, par: par, g: m.NewGrads(), task: task, batch: data.NewBatch(cfg.Batch, task.SeqLen()), seed: cfg.Seed}
	t.pcg = rand.NewPCG(0, 0)
	t.rng = rand.New(t.pcg)
	for _, v := range m.ParamViews(t.g) {
		t.params = append(t.params, optim.Param{Name: v.Name, Data: v.Data, Grad: v.Grad, Decay: v.Decay})
	}
	o, err := optim.NewAdamW(t.params, optim.AdamConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: cfg.WeightDecay})
	if err != nil {
		par.Close()
		return nil, nil, err
	}
	return t, o, nil
}
