package induction

import (
	"errors"
	"fmt"

	"github.com/mechinterp/workbench/data"
	"github.com/mechinterp/workbench/transformer"
)

// Config is one induction run: model, task and optimisation. Zero fields
// are not defaults: start from Default.
type Config struct {
	NLayers       int     `json:"n_layers"`
	DModel        int     `json:"d_model"`
	NHeads        int     `json:"n_heads"`
	DHead         int     `json:"d_head"`
	DVocab        int     `json:"d_vocab"`
	SeqLen        int     `json:"seq_len"`    // L: the repeated block's maximum length
	MinRepeat     int     `json:"min_repeat"` // shortest repeat length drawn
	Distinct      bool    `json:"distinct"`
	BOS           bool    `json:"bos"`
	MLP           bool    `json:"mlp"` // blocks with a GELU MLP (d_mlp = 4·d_model)
	Normalization string  `json:"normalization"`
	Batch         int     `json:"batch"`
	Steps         int     `json:"steps"`
	LR            float64 `json:"lr"`
	WeightDecay   float64 `json:"weight_decay"`
	Warmup        int     `json:"warmup"`
	ClipNorm      float64 `json:"clip_norm"`
	Seed          uint64  `json:"seed"`
	Workers       int     `json:"workers"`
	Shards        int     `json:"shards"` // fixed batch split: results do not depend on Workers
	EvalEvery     int     `json:"eval_every"`
	EvalSize      int     `json:"eval_size"`
	StopAtAcc     float64 `json:"stop_at_acc,omitempty"` // stop early once eval accuracy reaches this (0: never)
}

// Default returns the defaults, which form the circuit: 2
// attention-only layers, d_model 64, 4 heads of 16, d_vocab 64, L 20,
// repeats of 10..20 distinct tokens, batch 64, AdamW 1e-3 with weight decay
// 0.01, 2000 steps, seed 0.
func Default() Config {
	return Config{
		NLayers: 2, DModel: 64, NHeads: 4, DHead: 16, DVocab: 64,
		SeqLen: 20, MinRepeat: 10, Distinct: true, Normalization: "none",
		Batch: 64, Steps: 2000, LR: 1e-3, WeightDecay: 0.01, Warmup: 0, ClipNorm: 1,
		Seed: 0, Workers: 2, Shards: 2, EvalEvery: 100, EvalSize: 256,
	}
}

// Task returns the synthetic task.
func (c Config) Task() data.Induction {
	return data.Induction{Vocab: c.DVocab, L: c.SeqLen, MinRepeat: c.MinRepeat, Distinct: c.Distinct, BOS: c.BOS}
}

// Model returns the transformer config.
func (c Config) Model() transformer.Config {
	m := transformer.Config{
		NLayers: c.NLayers, DModel: c.DModel, NHeads: c.NHeads, DHead: c.DHead,
		DVocab: c.DVocab, NCtx: c.Task().SeqLen(), AttnOnly: !c.MLP,
		NormalizationType: c.Normalization, Seed: c.Seed,
	}
	if c.MLP {
		m.DMLP = 4 * c.DModel
		m.ActFn = transformer.ActGELU
	}
	return m.WithDefaults()
}

// Validate reports every problem with c.
func (c Config) Validate() error {
	var errs []error
	if err := c.Task().Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Model().Validate(); err != nil {
		errs = append(errs, err)
	}
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(c.Batch >= 1, "batch must be positive, got %d", c.Batch)
	check(c.Steps >= 1, "steps must be positive, got %d", c.Steps)
	check(c.LR > 0, "learning rate must be positive, got %g", c.LR)
	check(c.WeightDecay >= 0, "weight decay must be non-negative, got %g", c.WeightDecay)
	check(c.Warmup >= 0, "warmup must be non-negative, got %d", c.Warmup)
	check(c.ClipNorm >= 0, "clip norm must be non-negative, got %g", c.ClipNorm)
	check(c.Workers >= 1 && c.Workers <= 64, "workers must be in [1, 64], got %d", c.Workers)
	check(c.Shards >= 1, "shards must be positive, got %d", c.Shards)
	check(c.EvalEvery >= 1, "eval-every must be positive, got %d", c.EvalEvery)
	check(c.EvalSize >= 1, "eval size must be positive, got %d", c.EvalSize)
	check(c.NLayers >= 1, "n-layers must be positive")
	if len(errs) > 0 {
		return fmt.Errorf("induction: invalid config: %w", errors.Join(errs...))
	}
	return nil
}
