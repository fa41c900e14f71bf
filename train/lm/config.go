package lm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/mechinterp/workbench/transformer"
)

// TaskName is Config.Task: it tells an lm run's train.json from other
// experiments'.
const TaskName = "lm"

// TokenizerBytes is Config.Tokenizer for byte-level models: token = byte,
// d_vocab 256.
const TokenizerBytes = "bytes"

// DefaultTrainTokenizer is the vocabulary of the byte-level BPE that
// 'workbench train lm' learns on the corpus when no tokenizer is given.
const DefaultTrainTokenizer = 1024

// Schedules of Config.Schedule.
const (
	ScheduleConstant = "constant" // linear warm-up, then constant
	ScheduleCosine   = "cosine"   // linear warm-up, then cosine decay to LR/10
)

// Config is one language-model run: corpus, model and optimisation. Zero
// fields are not defaults: start from Default. It is written to the run's
// train.json and read back strictly (ParseConfig).
type Config struct {
	Task      string  `json:"task"`      // always TaskName
	Text      string  `json:"text"`      // the corpus: a file, or a folder of files
	Tokenizer string  `json:"tokenizer"` // TokenizerBytes, or a tokenizer.json / GPT-2 folder
	HeldOut   float64 `json:"held_out"`  // the corpus's last fraction kept for evaluation

	NLayers       int    `json:"n_layers"`
	DModel        int    `json:"d_model"`
	NHeads        int    `json:"n_heads"`
	DHead         int    `json:"d_head"`
	MLP           bool   `json:"mlp"` // blocks with a GELU MLP (d_mlp = 4·d_model)
	Normalization string `json:"normalization"`
	Positional    string `json:"positional"` // standard, shortformer or rotary
	Context       int    `json:"context"`    // n_ctx: tokens per training window

	// RepeatFrac is the fraction of training windows in which a random
	// earlier span is repeated later in the window (data.TextLM).
	RepeatFrac float64 `json:"repeat_frac"`
	// RepeatMin and RepeatMax bound the repeated span's length as fractions
	// of Context (rounded; at least 2 tokens, at most half the context).
	RepeatMin float64 `json:"repeat_min"`
	RepeatMax float64 `json:"repeat_max"`
	// RepeatRandom fills each repeated span's first copy with tokens drawn
	// from random places of the training text (data.TextLM.RandomSpans):
	// a random sequence inserted twice, which only copying predicts.
	RepeatRandom bool `json:"repeat_random,omitempty"`
	// RepeatSteps, when positive, limits repeat mixing to the first
	// RepeatSteps optimizer steps (a curriculum); later steps train on
	// plain text. 0 mixes throughout.
	RepeatSteps int `json:"repeat_steps,omitempty"`
	// RepeatFracAfter is the mixing fraction from step RepeatSteps on.
	RepeatFracAfter float64 `json:"repeat_frac_after,omitempty"`

	Batch       int     `json:"batch"`
	Steps       int     `json:"steps"`
	LR          float64 `json:"lr"`
	Schedule    string  `json:"schedule"`
	Warmup      int     `json:"warmup"`
	WeightDecay float64 `json:"weight_decay"`
	ClipNorm    float64 `json:"clip_norm"`
	Seed        uint64  `json:"seed"`
	Workers     int     `json:"workers"`
	Shards      int     `json:"shards"` // fixed batch split: results do not depend on Workers

	EvalEvery        int `json:"eval_every"`
	EvalWindows      int `json:"eval_windows"`       // held-out windows per evaluation
	PerPositionEvery int `json:"per_position_every"` // per-position loss every N evaluations (and at the end)
}

// Default returns the starting configuration, the one that forms an
// induction head on tinyshakespeare in a few minutes on two cores: 2
// attention-only layers, d_model 64, 4 heads of 16, rotary positions,
// context 128, batch 64, AdamW 3e-3 after 200 warm-up steps, 10,000
// steps, and a curriculum: for the first 2,500 steps every window carries
// a random sequence of 25–50% of the context twice (tokens drawn from
// random places of the text, so that only copying predicts the second
// copy), then a quarter of the windows do and the rest is plain text.
// Held-out evaluation is always on plain text. The tokenizer field is
// bytes here; 'workbench train lm' learns a BPE of DefaultTrainTokenizer
// tokens on the corpus unless told otherwise. The package doc lists what
// was tried.
func Default() Config {
	return Config{
		Task: TaskName, Tokenizer: TokenizerBytes, HeldOut: 0.1,
		NLayers: 2, DModel: 64, NHeads: 4, DHead: 16, Normalization: "none", Positional: transformer.PosRotary,
		Context: 128, RepeatFrac: 1, RepeatMin: 0.25, RepeatMax: 0.5, RepeatRandom: true, RepeatSteps: 2500, RepeatFracAfter: 0.25,
		Batch: 64, Steps: 10000, LR: 3e-3, Schedule: ScheduleConstant, Warmup: 200, WeightDecay: 0.01, ClipNorm: 1,
		Seed: 0, Workers: 2, Shards: 2,
		EvalEvery: 250, EvalWindows: 256, PerPositionEvery: 5,
	}
}

// Model returns the transformer config for a vocabulary of dVocab tokens.
func (c Config) Model(dVocab int) transformer.Config {
	m := transformer.Config{
		NLayers: c.NLayers, DModel: c.DModel, NHeads: c.NHeads, DHead: c.DHead,
		DVocab: dVocab, NCtx: c.Context, AttnOnly: !c.MLP,
		NormalizationType: c.Normalization, PositionalEmbeddingType: c.Positional, Seed: c.Seed,
	}
	if c.MLP {
		m.DMLP = 4 * c.DModel
		m.ActFn = transformer.ActGELU
	}
	return m.WithDefaults()
}

// spans returns the repeated span's bounds in tokens: the fractions of the
// context, rounded, at least 2 tokens, hi at least lo.
func (c Config) spans() (lo, hi int) {
	lo = max(2, int(math.Round(c.RepeatMin*float64(c.Context))))
	hi = max(lo, int(math.Round(c.RepeatMax*float64(c.Context))))
	return lo, hi
}

// maxContext bounds Context: evaluation keeps [layer, head, T, T] patterns.
const maxContext = 2048

// Validate reports every problem with c that does not need the corpus.
func (c Config) Validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(c.Task == TaskName, "task must be %q, got %q", TaskName, c.Task)
	check(c.Text != "", "a corpus (text) is required")
	check(c.Tokenizer != "", "a tokenizer is required (%q or a path)", TokenizerBytes)
	check(c.HeldOut > 0 && c.HeldOut < 1, "held-out fraction must be in (0, 1), got %g", c.HeldOut)
	check(c.Context >= 8 && c.Context <= maxContext, "context must be in [8, %d], got %d", maxContext, c.Context)
	check(c.RepeatFrac >= 0 && c.RepeatFrac <= 1, "repeat fraction must be in [0, 1], got %g", c.RepeatFrac)
	lo, hi := c.spans()
	check(c.RepeatFrac == 0 || c.RepeatMin > 0 && c.RepeatMin <= c.RepeatMax && 2*hi <= c.Context,
		"repeated spans of %g to %g of the context (%d to %d tokens) must be positive fractions, min ≤ max, that fit twice", c.RepeatMin, c.RepeatMax, lo, hi)
	check(c.RepeatFracAfter >= 0 && c.RepeatFracAfter <= 1, "repeat fraction after the curriculum must be in [0, 1], got %g", c.RepeatFracAfter)
	check(c.RepeatFracAfter == 0 || c.RepeatSteps > 0, "a repeat fraction after the curriculum (%g) needs repeat steps", c.RepeatFracAfter)
	check(c.RepeatSteps >= 0, "repeat steps must be ≥ 0, got %d", c.RepeatSteps)
	check(c.NLayers >= 1, "n-layers must be positive, got %d", c.NLayers)
	check(c.Batch >= 1, "batch must be positive, got %d", c.Batch)
	check(c.Steps >= 1, "steps must be positive, got %d", c.Steps)
	check(c.LR > 0, "learning rate must be positive, got %g", c.LR)
	check(c.Schedule == ScheduleConstant || c.Schedule == ScheduleCosine, "schedule must be %s or %s, got %q", ScheduleConstant, ScheduleCosine, c.Schedule)
	check(c.Warmup >= 0, "warmup must be non-negative, got %d", c.Warmup)
	check(c.WeightDecay >= 0, "weight decay must be non-negative, got %g", c.WeightDecay)
	check(c.ClipNorm >= 0, "clip norm must be non-negative, got %g", c.ClipNorm)
	check(c.Workers >= 1 && c.Workers <= 64, "workers must be in [1, 64], got %d", c.Workers)
	check(c.Shards >= 1 && c.Shards <= c.Batch, "shards must be in [1, batch], got %d", c.Shards)
	check(c.EvalEvery >= 1, "eval-every must be positive, got %d", c.EvalEvery)
	check(c.EvalWindows >= 1 && c.EvalWindows <= 4096, "eval windows must be in [1, 4096], got %d", c.EvalWindows)
	check(c.PerPositionEvery >= 1, "per-position-every must be positive, got %d", c.PerPositionEvery)
	if err := c.Model(256).Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("lm: invalid config: %w", errors.Join(errs...))
	}
	return nil
}

// ParseConfig reads a Config from JSON strictly: unknown fields are an
// error naming them, and the result is validated.
func ParseConfig(b []byte) (Config, error) {
	var c Config
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("lm: config: %w", err)
	}
	return c, c.Validate()
}
