package transformer

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
)

// Normalization types (TransformerLens's normalization_type).
const (
	NormNone   = "none"
	NormLN     = "LN"
	NormLNPre  = "LNPre"
	NormRMS    = "RMS"
	NormRMSPre = "RMSPre"
)

// Activation functions (TransformerLens's act_fn).
const (
	ActGELU    = "gelu"     // exact, erf form
	ActGELUNew = "gelu_new" // tanh approximation (GPT-2)
	ActReLU    = "relu"
	ActSiLU    = "silu" // x·sigmoid(x) (Llama's SwiGLU gate)
)

// Positional embedding types.
const (
	PosStandard    = "standard"    // learned W_pos added to the residual stream
	PosShortformer = "shortformer" // W_pos added to the input of Q and K only
	PosRotary      = "rotary"      // queries and keys rotated by position (rotate-half pairing, or adjacent with rotary_adjacent_pairs); W_pos unused
)

// MaxNCtx bounds n_ctx so that a config cannot ask for absurd memory.
const MaxNCtx = 1 << 16

// Config is a model's architecture, with TransformerLens's field names in
// JSON. It holds architecture only; analysis options belong to the functions
// that use them. JSON null (as PyTorch exports write for unset fields) means
// the default.
type Config struct {
	NLayers                 int     `json:"n_layers"`
	DModel                  int     `json:"d_model"`
	NHeads                  int     `json:"n_heads"`
	DHead                   int     `json:"d_head"`
	DMLP                    int     `json:"d_mlp"`
	DVocab                  int     `json:"d_vocab"`
	DVocabOut               int     `json:"d_vocab_out"` // 0 or -1: same as DVocab
	NCtx                    int     `json:"n_ctx"`
	AttnOnly                bool    `json:"attn_only"`
	NormalizationType       string  `json:"normalization_type"` // LN, LNPre, RMS, RMSPre, none ("" = none)
	PositionalEmbeddingType string  `json:"positional_embedding_type"`
	ActFn                   string  `json:"act_fn"`
	TiedEmbeddings          bool    `json:"tied_embeddings"` // W_U = W_Eᵀ
	Eps                     float64 `json:"eps"`
	Seed                    uint64  `json:"seed"`
	InitRange               float64 `json:"initializer_range"` // std of the normal init; 0: 0.8/√d_model

	// Llama-family architecture.
	RotaryDim       int     `json:"rotary_dim,omitempty"`        // rotary: leading dims of each head rotated; 0: d_head
	RotaryBase      float64 `json:"rotary_base,omitempty"`       // rotary: θ base; 0: 10000
	NKeyValueHeads  int     `json:"n_key_value_heads,omitempty"` // grouped-query attention: K/V heads; 0: n_heads
	GatedMLP        bool    `json:"gated_mlp,omitempty"`         // post = act(x·W_gate)·(x·W_in) + b_in (TransformerLens's GatedMLP)
	ParallelAttnMLP bool    `json:"parallel_attn_mlp,omitempty"` // resid_post = resid_pre + attn_out + mlp(ln2(resid_pre)); no hook_resid_mid

	RotaryAdjacentPairs bool `json:"rotary_adjacent_pairs,omitempty"` // rotary: dims (2i, 2i+1) rotate together (llama2.c, Meta); false: (i, i+rotary_dim/2)
	// Attention variants (forward pass only: training refuses them; see localattn.go).
	AttnScale                  float64   `json:"attn_scale,omitempty"`                      // scores are q·k / attn_scale; 0 or negative: √d_head (use_attn_scale false reads as 1)
	ScaleAttnByInverseLayerIdx bool      `json:"scale_attn_by_inverse_layer_idx,omitempty"` // block l's scores further divided by l+1 (Hugging Face GPT-2's option)
	UseLocalAttn               bool      `json:"use_local_attn,omitempty"`                  // attn_types gives each block global or local attention
	AttnTypes                  AttnTypes `json:"attn_types,omitempty"`                      // per block: "global" or "local" (GPT-Neo)
	WindowSize                 int       `json:"window_size,omitempty"`                     // local attention: query i reads keys i−window_size < j ≤ i
}

// ParseConfig decodes a JSON config, fills defaults and validates it. It is
// strict: a key that is not a Config field is refused, unless it is a
// TransformerLens field at a value that does not change the computation
// (use_attn_scale true, parallel_attn_mlp false, …); errors name the field.
func ParseConfig(b []byte) (Config, error) {
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return Config{}, fmt.Errorf("transformer: config: %w", err)
	}
	if err := readUseAttnScale(b, &c); err != nil {
		return Config{}, fmt.Errorf("transformer: config: %w", err)
	}
	if err := checkAmbiguousDefaults(b, c); err != nil {
		return Config{}, fmt.Errorf("transformer: config: %w", err)
	}
	// The same function under Hugging Face's other names.
	if c.ActFn == "gelu_pytorch_tanh" || c.ActFn == "gelu_fast" {
		c.ActFn = ActGELUNew
	}
	c = c.WithDefaults()
	if err := checkFields(b, c); err != nil {
		return Config{}, fmt.Errorf("transformer: config: %w", err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// checkAmbiguousDefaults refuses a config that leaves out a field whose
// default differs between TransformerLens and Workbench, so that it would
// silently compute another model: normalization_type (TransformerLens: LN;
// Workbench: none).
func checkAmbiguousDefaults(b []byte, c Config) error {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		return err
	}
	if _, ok := keys["normalization_type"]; !ok {
		return fmt.Errorf("normalization_type is missing: TransformerLens's default is LN and Workbench's none, so say which (\"LN\", \"LNPre\", \"RMS\", \"RMSPre\" or \"none\")")
	}
	return nil
}

// WithDefaults returns c with unset fields given their defaults:
// d_vocab_out = d_vocab, normalization "none", positional embedding
// "standard", act_fn "gelu" for models with an MLP, eps 1e-5, and the
// TransformerLens init range 0.8/√d_model (for 0 or, as TransformerLens
// writes it, a negative initializer_range).
func (c Config) WithDefaults() Config {
	if c.DVocabOut <= 0 {
		c.DVocabOut = c.DVocab
	}
	if c.NormalizationType == "" || strings.EqualFold(c.NormalizationType, "none") {
		c.NormalizationType = NormNone
	}
	if c.PositionalEmbeddingType == "" {
		c.PositionalEmbeddingType = PosStandard
	}
	if c.ActFn == "" && !c.AttnOnly {
		c.ActFn = ActGELU
	}
	if c.Eps == 0 {
		c.Eps = 1e-5
	}
	if c.NKeyValueHeads <= 0 {
		c.NKeyValueHeads = c.NHeads
	}
	if c.PositionalEmbeddingType == PosRotary {
		if c.RotaryDim <= 0 {
			c.RotaryDim = c.DHead
		}
		if c.RotaryBase <= 0 {
			c.RotaryBase = 10000
		}
	} else {
		c.RotaryBase = 0 // unused: TransformerLens writes 10000 for every model
	}
	if c.InitRange <= 0 && c.DModel > 0 { // TransformerLens writes -1 for the default
		c.InitRange = 0.8 / math.Sqrt(float64(c.DModel))
	}
	if c.AttnScale <= 0 { // TransformerLens writes -1 for the default
		c.AttnScale = math.Sqrt(float64(c.DHead))
	}
	return c
}

// grouped reports whether key/value heads are shared (n_key_value_heads < n_heads).
func (c Config) grouped() bool { return c.NKeyValueHeads > 0 && c.NKeyValueHeads < c.NHeads }

// checkTrainable refuses gradients through the attention variants that
// only the forward pass implements (attnFeatures), naming them.
func (c Config) checkTrainable(op string) error {
	if f := c.attnFeatures(); len(f) > 0 {
		return fmt.Errorf("transformer: %s: the backward pass does not implement %s (forward and hooks only)", op, strings.Join(f, ", "))
	}
	return nil
}

// HasMLP reports whether blocks have an MLP.
func (c Config) HasMLP() bool { return !c.AttnOnly }

// HasResidMid reports whether the blocks have a hook_resid_mid: models with
// MLPs, except parallel attention and MLP, whose MLP reads resid_pre.
func (c Config) HasResidMid() bool { return c.HasMLP() && !c.ParallelAttnMLP }

// HasNorm reports whether the model has LayerNorm/RMSNorm layers.
func (c Config) HasNorm() bool { return c.NormalizationType != NormNone && c.NormalizationType != "" }

// normHasWeight reports whether the normalization has a learned gain (and,
// for LN, bias).
func (c Config) normHasWeight() bool {
	return c.NormalizationType == NormLN || c.NormalizationType == NormRMS
}

// Validate reports the first problem with c in words a user understands.
// Call it on WithDefaults' result.
func (c Config) Validate() error {
	var errs []error
	pos := func(name string, v int) {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, got %d", name, v))
		}
	}
	pos("n_layers", c.NLayers)
	pos("d_model", c.DModel)
	pos("n_heads", c.NHeads)
	pos("d_head", c.DHead)
	pos("d_vocab", c.DVocab)
	pos("d_vocab_out", c.DVocabOut)
	pos("n_ctx", c.NCtx)
	if c.NCtx > MaxNCtx {
		errs = append(errs, fmt.Errorf("n_ctx %d exceeds the limit %d", c.NCtx, MaxNCtx))
	}
	if !c.AttnOnly {
		if c.DMLP <= 0 {
			errs = append(errs, fmt.Errorf("d_mlp must be positive for a model with MLPs (attn_only false), got %d", c.DMLP))
		}
		switch c.ActFn {
		case ActGELU, ActGELUNew, ActReLU, ActSiLU:
		default:
			errs = append(errs, fmt.Errorf("act_fn %q is not one of gelu, gelu_new, relu, silu", c.ActFn))
		}
	}
	if c.GatedMLP && c.AttnOnly {
		errs = append(errs, errors.New("gated_mlp needs a model with MLPs (attn_only false)"))
	}
	if c.ParallelAttnMLP && c.AttnOnly {
		errs = append(errs, errors.New("parallel_attn_mlp needs a model with MLPs (attn_only false)"))
	}
	if c.NKeyValueHeads < 1 || c.NKeyValueHeads > c.NHeads || (c.NHeads > 0 && c.NHeads%c.NKeyValueHeads != 0) {
		errs = append(errs, fmt.Errorf("n_key_value_heads %d must divide n_heads %d", c.NKeyValueHeads, c.NHeads))
	}
	if c.PositionalEmbeddingType == PosRotary {
		if c.RotaryDim%2 != 0 || c.RotaryDim > c.DHead {
			errs = append(errs, fmt.Errorf("rotary_dim %d must be even and at most d_head %d", c.RotaryDim, c.DHead))
		}
		if math.IsNaN(c.RotaryBase) || math.IsInf(c.RotaryBase, 0) {
			errs = append(errs, fmt.Errorf("rotary_base must be finite, got %g", c.RotaryBase))
		}
	} else {
		if c.RotaryDim != 0 {
			errs = append(errs, fmt.Errorf("rotary_dim %d needs positional_embedding_type rotary", c.RotaryDim))
		}
		if c.RotaryAdjacentPairs {
			errs = append(errs, errors.New("rotary_adjacent_pairs needs positional_embedding_type rotary"))
		}
	}
	switch c.NormalizationType {
	case NormNone, NormLN, NormLNPre, NormRMS, NormRMSPre:
	default:
		errs = append(errs, fmt.Errorf("normalization_type %q is not one of LN, LNPre, RMS, RMSPre, none", c.NormalizationType))
	}
	switch c.PositionalEmbeddingType {
	case PosStandard, PosShortformer, PosRotary:
	default:
		errs = append(errs, fmt.Errorf("positional_embedding_type %q is not one of standard, shortformer, rotary", c.PositionalEmbeddingType))
	}
	if c.TiedEmbeddings && c.DVocabOut != c.DVocab {
		errs = append(errs, fmt.Errorf("tied_embeddings needs d_vocab_out == d_vocab, got %d and %d", c.DVocabOut, c.DVocab))
	}
	if c.Eps <= 0 || math.IsNaN(c.Eps) {
		errs = append(errs, fmt.Errorf("eps must be positive, got %g", c.Eps))
	}
	if c.InitRange < 0 || math.IsNaN(c.InitRange) {
		errs = append(errs, fmt.Errorf("initializer_range must be non-negative, got %g", c.InitRange))
	}
	errs = append(errs, c.attnErrors()...)
	const maxParams = 1 << 31
	if len(errs) == 0 && c.NumParams() > maxParams {
		errs = append(errs, fmt.Errorf("model has %d parameters, more than the limit %d", c.NumParams(), maxParams))
	}
	if len(errs) > 0 {
		return fmt.Errorf("transformer: invalid config: %w", errors.Join(errs...))
	}
	return nil
}

// NumParams returns the number of float32 parameters the model stores (tied
// embeddings store W_U once, as W_E).
func (c Config) NumParams() int {
	n := 0
	for _, s := range c.paramSpecs() {
		n += s.numel()
	}
	return n
}

// JSON returns the config as indented JSON with TransformerLens field names;
// the Llama-family fields are omitted at their defaults, so that the JSON of
// other models is what it was.
func (c Config) JSON() []byte {
	if !c.grouped() {
		c.NKeyValueHeads = 0 // omitted: TransformerLens reads any n_key_value_heads as grouped-query attention
	}
	if !c.scaledOtherwise() {
		c.AttnScale = 0 // omitted at √d_head, TransformerLens's default
	}
	b, _ := json.MarshalIndent(c, "", "  ")
	return b
}
