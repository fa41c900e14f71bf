package lm

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/mechinterp/workbench/data"
	"github.com/mechinterp/workbench/optim"
	"github.com/mechinterp/workbench/train"
	"github.com/mechinterp/workbench/train/induction"
	"github.com/mechinterp/workbench/transformer"
)

// Result is what `workbench train lm --json` prints: the fields.
type Result struct {
	FinalEvalLoss       float64 `json:"final_eval_loss"`
	ICLScore            float64 `json:"icl_score"`
	InductionScore      float64 `json:"induction_score"`       // best head
	PrefixMatchingScore float64 `json:"prefix_matching_score"` // best head
	PrevTokenScore      float64 `json:"prev_token_score"`      // best head
	PhaseChangeStep     *int    `json:"phase_change_step"`
	TokensSeen          int     `json:"tokens_seen"`
	WallSeconds         float64 `json:"wall_seconds"`
	TokensPerSecond     float64 `json:"tokens_per_second"`
	Checkpoint          string  `json:"checkpoint"`
}

// Summary is summary.json: the Result and the rest of the run's story.
type Summary struct {
	Result
	Steps          int         `json:"steps"`
	ICLPositions   [2]int      `json:"icl_positions"`
	PhaseBefore    *int        `json:"phase_change_before"` // the evaluation step before it
	ICLBefore      *float64    `json:"icl_score_before"`    // the ICL score at PhaseBefore
	LossBumpStep   int         `json:"loss_bump_step,omitempty"`
	Interrupted    bool        `json:"interrupted"`
	Model          string      `json:"model"` // the final weights alone, without optimizer state
	Dir            string      `json:"dir"`
	TrainSeconds   float64     `json:"train_seconds"` // wall time minus evaluation
	CorpusTokens   int         `json:"corpus_tokens"`
	Vocab          int         `json:"vocab"`
	PrefixMatching [][]float64 `json:"prefix_matching_grid"`
	Induction      [][]float64 `json:"induction_grid"`
	PrevToken      [][]float64 `json:"prev_token_grid"`
	Copying        [][]float64 `json:"copying_grid"`
	// InductionAblated is the final model's held-out loss and ICL score
	// with its induction heads mean-ablated (nil for an interrupted run).
	InductionAblated *Ablation `json:"induction_ablated,omitempty"`
	// AlreadyFinished is set when a resume found the run complete and
	// changed nothing; the rest is the run's summary.json.
	AlreadyFinished bool `json:"-"`
}

// Options are the run's plumbing, not its science.
type Options struct {
	Resume bool
	// AllowConfigChange lets a resume change fields other than steps and
	// workers (recorded in metrics.jsonl).
	AllowConfigChange bool
	Progress          io.Writer            // a terminal, or nil
	Listeners         []func(train.Record) // telemetry subscribers (the dashboard)
	Log               io.Writer            // repairs of the run folder, or nil
}

// PhaseMinRise is the rise of the best head's prefix-matching score that
// counts as a phase change (train.PhaseChange).
const PhaseMinRise = 0.2

// newTrainable builds the model, the corpus's Trainer and AdamW (β2 0.95).
// The caller closes the Trainer.
func newTrainable(cfg Config, c *Corpus) (*induction.Trainer, optim.Optimizer, error) {
	m, err := transformer.New(cfg.Model(c.Shard.Vocab()))
	if err != nil {
		return nil, nil, err
	}
	lo, hi := cfg.spans()
	task := data.TextLM{Shard: c.Shard, Lo: 0, Hi: c.Split, SeqLen: cfg.Context, RepeatFrac: cfg.RepeatFrac, MinSpan: lo, MaxSpan: hi, RandomSpans: cfg.RepeatRandom}
	if err := task.Validate(); err != nil {
		return nil, nil, fmt.Errorf("lm: %w", err)
	}
	adam := optim.AdamConfig{Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: cfg.WeightDecay}
	var filler induction.Filler = task
	if cfg.RepeatSteps > 0 {
		after := task
		after.RepeatFrac = cfg.RepeatFracAfter
		filler = curriculum{early: task, late: after, until: cfg.RepeatSteps}
	}
	return induction.NewTrainer(m, filler, cfg.Batch, cfg.Context, cfg.Shards, cfg.Workers, cfg.Seed, adam)
}

// curriculum trains on early's windows for the steps before until and on
// late's from then on (the same text, another repeat-mixing fraction).
type curriculum struct {
	early, late data.TextLM
	until       int
}

// Fill implements induction.Filler: early's windows.
func (c curriculum) Fill(dst *data.Batch, rng *rand.Rand) { c.early.Fill(dst, rng) }

// FillStep implements induction.StepFiller.
func (c curriculum) FillStep(dst *data.Batch, rng *rand.Rand, step int) {
	if step < c.until {
		c.early.Fill(dst, rng)
		return
	}
	c.late.Fill(dst, rng)
}

// schedule returns cfg's learning rate per step.
func (c Config) schedule() optim.Schedule {
	if c.Schedule == ScheduleCosine {
		return optim.Cosine(c.LR, c.Warmup, c.Steps, c.LR/10)
	}
	if c.Warmup > 0 {
		return optim.LinearWarmup(c.LR, c.Warmup)
	}
	return optim.Constant(c.LR)
}

// phaseTracker detects the phase change while training runs: the best
// head's prefix-matching score, evaluation by evaluation, through
// train.PhaseChange with PhaseMinRise. It is rebuilt from metrics.jsonl on
// resume, so a resumed run reports what an uninterrupted one would.
type phaseTracker struct {
	series  []train.Point
	icl     map[int]float64
	found   bool
	before  int
	at      int
	emitted bool
}

// observe adds an evaluation and returns the phase-change event the first
// time one is detected.
func (p *phaseTracker) observe(step int, prefixMax, icl float64) train.Record {
	p.series = append(p.series, train.Point{Step: step, Value: prefixMax})
	p.icl[step] = icl
	if p.found {
		return nil
	}
	before, at, ok := train.PhaseChange(p.series, PhaseMinRise)
	if !ok {
		return nil
	}
	p.found, p.before, p.at = true, before, at
	if p.emitted {
		return nil
	}
	p.emitted = true
	return train.Record{
		"step": step, "event": "phase_change", "phase_change_step": at, "before_step": before,
		"prefix_matching_max": prefixMax, "icl_score_before": p.icl[before], "icl_score": icl,
	}
}

// metricsLine is what the tracker and the summary read from metrics.jsonl.
type metricsLine struct {
	Step           int         `json:"step"`
	Event          string      `json:"event"`
	Loss           *float64    `json:"loss"`
	EvalLoss       *float64    `json:"eval_loss"`
	ICL            float64     `json:"icl_score"`
	PrefixMax      float64     `json:"prefix_matching_max"`
	PrefixMatching [][]float64 `json:"prefix_matching_score"`
	Copying        [][]float64 `json:"copying_score"`
	PrevToken      [][]float64 `json:"prev_token_score"`
	Induction      [][]float64 `json:"induction_score"`
}

// scan reads dir's metrics.jsonl up to step steps into a tracker, the loss
// series and the last evaluation.
func scan(dir string, steps int) (*phaseTracker, []train.Point, *metricsLine, error) {
	p := &phaseTracker{icl: map[int]float64{}}
	var losses []train.Point
	var last *metricsLine
	err := train.ScanMetrics(dir, func(line []byte) error {
		var r metricsLine
		if json.Unmarshal(line, &r) != nil || r.Step > steps {
			return nil // a torn line, or past the checkpoint
		}
		if r.Event == "phase_change" {
			p.emitted = true
			return nil
		}
		if r.Event != "" {
			return nil
		}
		if r.Loss != nil {
			losses = append(losses, train.Point{Step: r.Step, Value: *r.Loss})
		}
		if r.EvalLoss != nil {
			p.observe(r.Step, r.PrefixMax, r.ICL)
			last = &r
		}
		return nil
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("lm: %w", err)
	}
	return p, losses, last, nil
}

// Train runs the experiment into dir and returns its summary. train.json
// (the config), corpus.tokens and corpus.json, metrics.jsonl,
// checkpoints/, model.safetensors (the final weights with their model
// config), the tokenizer (if not bytes) and summary.json are in dir, which
// Train holds locked throughout. Cancelling ctx stops it with a final
// checkpoint (Summary.Interrupted set, error nil).
func Train(ctx context.Context, cfg Config, dir string, opt Options) (Summary, error) {
	if err := cfg.Validate(); err != nil {
		return Summary{}, err
	}
	lock, err := train.LockDir(dir)
	if err != nil {
		return Summary{}, err
	}
	defer lock.Unlock()
	tok, err := LoadTokenizer(cfg.Tokenizer)
	if err != nil {
		return Summary{}, err
	}
	corpus, err := openCorpus(dir, cfg, tok, opt.Resume)
	if err != nil {
		return Summary{}, err
	}
	if err := copyTokenizer(dir, cfg.Tokenizer); err != nil {
		return Summary{}, err
	}
	t, o, err := newTrainable(cfg, corpus)
	if err != nil {
		return Summary{}, err
	}
	defer t.Close()
	m := t.Model()
	ev, err := newEvaluator(m, cfg, corpus)
	if err != nil {
		return Summary{}, err
	}
	cfgJSON, _ := json.Marshal(cfg)
	tracker := &phaseTracker{icl: map[int]float64{}}
	evals := 0
	if opt.Resume {
		steps, err := train.Checkpoints(dir)
		if err != nil {
			return Summary{}, fmt.Errorf("lm: %w", err)
		}
		if len(steps) > 0 {
			if tracker, _, _, err = scan(dir, steps[len(steps)-1]); err != nil {
				return Summary{}, err
			}
			evals = len(tracker.series)
		}
	}
	var evalSeconds float64
	sum, err := train.Run(ctx, t, o, train.Options{
		Steps: cfg.Steps, LogEvery: 10, EvalEvery: cfg.EvalEvery, CheckpointEvery: cfg.EvalEvery,
		Schedule: cfg.schedule(), ClipNorm: cfg.ClipNorm, Dir: dir, Resume: opt.Resume,
		Config: cfgJSON, MayChange: []string{"steps", "workers"}, AllowConfigChange: opt.AllowConfigChange, Lock: lock, Log: opt.Log,
		Metadata: map[string]string{transformer.ConfigMetadataKey: string(m.Cfg.JSON()), "lm": string(cfgJSON)},
		Progress: opt.Progress,
		Eval: func(ctx context.Context, step int) (map[string]any, error) {
			began := time.Now()
			tel, err := ev.run(ctx)
			evalSeconds += time.Since(began).Seconds()
			if err != nil {
				return nil, err
			}
			evals++
			rec := tel.record(evals%cfg.PerPositionEvery == 1%cfg.PerPositionEvery || step == cfg.Steps)
			if e := tracker.observe(step, tel.PrefixMax, tel.ICL); e != nil {
				rec[train.EventsKey] = []train.Record{e}
			}
			return rec, nil
		},
		Listeners: opt.Listeners,
	})
	if err != nil && !sum.Interrupted {
		return Summary{}, err
	}
	if sum.AlreadyFinished {
		if s, err := readSummary(dir); err == nil {
			s.AlreadyFinished = true
			return s, nil
		}
	}
	s, err := summarize(dir, sum.Steps, cfg)
	if err != nil {
		return s, err
	}
	s.AlreadyFinished = sum.AlreadyFinished
	s.Interrupted = sum.Interrupted
	s.Steps, s.Checkpoint, s.Dir = sum.Steps, sum.Checkpoint, dir
	s.TokensSeen = sum.Steps * t.TokensPerStep()
	s.WallSeconds = sum.WallSeconds
	s.TrainSeconds = sum.WallSeconds - evalSeconds
	if s.TrainSeconds > 0 && sum.ResumedAtStep < sum.Steps {
		s.TokensPerSecond = float64((sum.Steps-sum.ResumedAtStep)*t.TokensPerStep()) / s.TrainSeconds
	}
	s.CorpusTokens, s.Vocab = corpus.Shard.Len(), corpus.Shard.Vocab()
	if !s.Interrupted && s.Induction != nil {
		a, err := ev.ablate(ctx, s.Induction)
		if err != nil {
			return s, err
		}
		s.InductionAblated = &a
	}
	s.Model = filepath.Join(dir, transformer.ModelFile)
	if err := m.Save(s.Model, map[string]string{"lm": string(cfgJSON), "step": fmt.Sprint(sum.Steps), "tokenizer": cfg.Tokenizer}); err != nil {
		return s, err
	}
	// An interrupted run keeps every checkpoint: its phase change may come later.
	if !s.Interrupted {
		keep := []int{sum.Steps}
		if s.PhaseChangeStep != nil {
			keep = append(keep, *s.PhaseBefore, *s.PhaseChangeStep)
		}
		if err := train.Prune(dir, keep); err != nil {
			return s, err
		}
	}
	if err := train.WriteJSON(filepath.Join(dir, train.SummaryFile), s); err != nil {
		return s, fmt.Errorf("lm: %w", err)
	}
	return s, nil
}

// summarize builds the science of the summary from dir's metrics.jsonl up
// to step steps.
func summarize(dir string, steps int, cfg Config) (Summary, error) {
	var s Summary
	p, losses, last, err := scan(dir, steps)
	if err != nil {
		return s, err
	}
	early, late := ICLPositions(cfg.Context)
	s.ICLPositions = [2]int{early, late}
	if last != nil {
		s.FinalEvalLoss, s.ICLScore = *last.EvalLoss, last.ICL
		s.PrefixMatching, s.Induction, s.PrevToken, s.Copying = last.PrefixMatching, last.Induction, last.PrevToken, last.Copying
		s.PrefixMatchingScore, s.InductionScore, s.PrevTokenScore = gridMax(last.PrefixMatching), gridMax(last.Induction), gridMax(last.PrevToken)
	}
	if p.found {
		at, before := p.at, p.before
		icl := p.icl[before]
		s.PhaseChangeStep, s.PhaseBefore, s.ICLBefore = &at, &before, &icl
	}
	s.LossBumpStep, _ = train.LossBump(losses)
	return s, nil
}

// readSummary reads dir's summary.json.
func readSummary(dir string) (Summary, error) {
	var s Summary
	b, err := os.ReadFile(filepath.Join(dir, train.SummaryFile))
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("lm: %s: %w", train.SummaryFile, err)
	}
	return s, nil
}
