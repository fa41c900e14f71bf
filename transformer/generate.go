package transformer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
)

// GenerateOptions control Model.Generate.
//
// Sampling follows the usual order (as Hugging Face's generate): logits are
// divided by Temperature, the TopK most likely tokens are kept, then the
// smallest set of the most likely of those whose probability mass reaches
// TopP, and a token is drawn from what is kept, renormalised.
type GenerateOptions struct {
	// MaxNew is the number of tokens to add to each prompt (fewer for a
	// sequence that stops at an EOS token). A prompt plus MaxNew may not
	// exceed n_ctx: Generate refuses it rather than truncate.
	MaxNew int
	// Temperature divides the logits before sampling. 0 is greedy decoding:
	// the argmax, ties to the lowest id, with no randomness.
	Temperature float64
	// TopK > 0 keeps only the TopK most likely tokens (ties to the lowest
	// id); 0 keeps every token. Needs Temperature > 0.
	TopK int
	// TopP in (0, 1) keeps the nucleus (Holtzman et al. 2019, "The Curious
	// Case of Neural Text Degeneration"): the smallest set of the most
	// likely tokens whose probability reaches TopP. 0 and 1 keep every
	// token. Needs Temperature > 0.
	TopP float64
	// Seed seeds the sampling. Prompt i draws from its own stream,
	// rand.NewPCG(Seed, i), so its tokens do not depend on the other
	// prompts of the batch.
	Seed uint64
	// EOS lists end-of-sequence ids: a sequence stops after emitting one of
	// them (the EOS token is the last of its new tokens). Empty: none.
	EOS []int32
	// Workers is the number of goroutines, the caller included, that share
	// each matrix product of a decoding step (they split its output
	// columns); ≤ 1 runs everything on the calling goroutine.
	Workers int
}

// validateGenerate checks opts and prompts (ids in [0, d_vocab)) against
// the model, and that the key-value cache implements its architecture.
func (m *Model) validateGenerate(prompts [][]int32, opts GenerateOptions) error {
	c := m.Cfg
	var errs []error
	switch {
	case opts.MaxNew < 0:
		errs = append(errs, fmt.Errorf("max_new must be ≥ 0, got %d", opts.MaxNew))
	case opts.MaxNew > c.NCtx:
		errs = append(errs, fmt.Errorf("max_new %d exceeds n_ctx %d", opts.MaxNew, c.NCtx))
	}
	if opts.Temperature < 0 || math.IsNaN(opts.Temperature) || math.IsInf(opts.Temperature, 0) {
		errs = append(errs, fmt.Errorf("temperature must be finite and ≥ 0, got %g", opts.Temperature))
	}
	if opts.TopK < 0 {
		errs = append(errs, fmt.Errorf("top-k must be ≥ 0, got %d", opts.TopK))
	}
	if !(opts.TopP >= 0 && opts.TopP <= 1) {
		errs = append(errs, fmt.Errorf("top-p must be in [0, 1], got %g", opts.TopP))
	}
	if opts.Temperature == 0 && (opts.TopK > 0 || opts.TopP > 0) {
		errs = append(errs, fmt.Errorf("top-k %d and top-p %g need temperature > 0 (temperature 0 is greedy)", opts.TopK, opts.TopP))
	}
	for _, e := range opts.EOS {
		if e < 0 || int(e) >= c.DVocabOut {
			errs = append(errs, fmt.Errorf("eos id %d is outside [0, %d)", e, c.DVocabOut))
		}
	}
	if len(prompts) == 0 {
		errs = append(errs, errors.New("no prompts"))
	}
	for i, p := range prompts {
		if len(p) == 0 {
			errs = append(errs, fmt.Errorf("prompt %d is empty", i))
			continue
		}
		if len(p)+max(opts.MaxNew, 0) > c.NCtx {
			errs = append(errs, fmt.Errorf("prompt %d has %d tokens: with %d new ones it exceeds n_ctx %d", i, len(p), opts.MaxNew, c.NCtx))
		}
		for j, t := range p {
			if t < 0 || int(t) >= c.DVocab {
				errs = append(errs, fmt.Errorf("prompt %d position %d: token %d is outside [0, %d)", i, j, t, c.DVocab))
				break
			}
		}
		if len(errs) > 8 {
			break // enough to act on
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("transformer: generate: %w", errors.Join(errs...))
	}
	if f := uncachedFeatures(c); len(f) > 0 {
		return fmt.Errorf("transformer: generate: the key-value cache does not implement %s", strings.Join(f, ", "))
	}
	return nil
}

// uncachedFeatures lists, by config field, the architecture features that
// the full forward implements and the cached decoding step (decoder.step)
// does not; Generate refuses such models. Every feature of Config today is
// cached, the attention variants (attn_scale, scale_attn_by_inverse_layer_idx,
// local windows) included.
func uncachedFeatures(Config) []string { return nil }

// Generate continues each prompt (token ids in [0, d_vocab), prompts may
// differ in length) by up to opts.MaxNew tokens and returns the new tokens
// only, one slice per prompt.
//
// Each prompt is run once through the full forward pass (prefill), which
// fills a key-value cache; each further token then costs one decoding step
// that computes only the new position, attending to the cached keys and
// values. Sequences keep their own lengths and positions (no padding enters
// attention or position embeddings), so a prompt's continuation is the same
// whether it is generated alone or in a batch (unlike TransformerLens's
// left-padded batches, TransformerLens issue #1005). A sequence stops at
// MaxNew tokens or after an EOS token.
//
// Invalid options or prompts are errors naming them; a sampled id that is
// not an input token (d_vocab_out > d_vocab) and would have to be fed back
// is an error. ctx is checked before each prompt's prefill and each
// decoding step; when it is done Generate returns its error.
func (m *Model) Generate(ctx context.Context, prompts [][]int32, opts GenerateOptions) ([][]int32, error) {
	if err := m.validateGenerate(prompts, opts); err != nil {
		return nil, err
	}
	out := make([][]int32, len(prompts))
	if opts.MaxNew == 0 {
		for i := range out {
			out[i] = []int32{}
		}
		return out, nil
	}
	caps := make([]int, len(prompts))
	for i, p := range prompts {
		caps[i] = len(p) + opts.MaxNew - 1 // the last new token is never fed back
	}
	dec := newDecoder(m, caps, opts.Workers)
	defer dec.close()
	smp := newSampler(m.Cfg.DVocabOut, opts)
	rngs := make([]*rand.Rand, len(prompts))
	for i := range rngs {
		rngs[i] = rand.New(rand.NewPCG(opts.Seed, uint64(i)))
	}
	// live lists the sequences still generating, in prompt order; next[r]
	// is the token sequence live[r] feeds into the next step.
	var live []int
	var next []int32
	for i, p := range prompts {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		logits, err := dec.prefill(ctx, i, p)
		if err != nil {
			return nil, err
		}
		out[i] = make([]int32, 0, opts.MaxNew)
		t, more, err := m.emit(&out[i], i, smp.next(logits, rngs[i]), opts)
		if err != nil {
			return nil, err
		}
		if more {
			live, next = append(live, i), append(next, t)
		}
	}
	for len(live) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		logits := dec.step(live, next)
		V := m.Cfg.DVocabOut
		keep := 0
		for r, i := range live {
			t, more, err := m.emit(&out[i], i, smp.next(logits[r*V:(r+1)*V], rngs[i]), opts)
			if err != nil {
				return nil, err
			}
			if more {
				live[keep], next[keep] = i, t
				keep++
			}
		}
		live, next = live[:keep], next[:keep]
	}
	return out, nil
}

// emit appends token t to sequence i's new tokens and reports whether the
// sequence goes on (then t is its next input).
func (m *Model) emit(out *[]int32, i, t int, opts GenerateOptions) (int32, bool, error) {
	*out = append(*out, int32(t))
	if len(*out) == opts.MaxNew {
		return 0, false, nil
	}
	for _, e := range opts.EOS {
		if int32(t) == e {
			return 0, false, nil
		}
	}
	if t >= m.Cfg.DVocab {
		return 0, false, fmt.Errorf("transformer: generate: prompt %d: sampled token %d cannot be fed back (d_vocab %d)", i, t, m.Cfg.DVocab)
	}
	return int32(t), true, nil
}
