package hf

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/mechinterp/workbench/transformer"
)

// A gpt2Config is the part of a GPT2Config (Hugging Face) that determines
// the computation. Pointers tell an absent or null field from a zero one.
type gpt2Config struct {
	VocabSize        int      `json:"vocab_size"`
	NPositions       int      `json:"n_positions"`
	NCtx             *int     `json:"n_ctx"`
	NEmbd            int      `json:"n_embd"`
	NLayer           int      `json:"n_layer"`
	NHead            int      `json:"n_head"`
	NInner           *int     `json:"n_inner"`
	Activation       *string  `json:"activation_function"`
	LayerNormEps     *float64 `json:"layer_norm_epsilon"`
	InitRange        *float64 `json:"initializer_range"`
	TieWordEmbedding *bool    `json:"tie_word_embeddings"`
	ScaleAttn        *bool    `json:"scale_attn_weights"`
	ScaleByLayer     *bool    `json:"scale_attn_by_inverse_layer_idx"`
}

// gpt2Fields returns, for every GPT2Config field config.json may hold, the
// check of its value: nil when the field is read into gpt2Config or never
// changes the logits (dropout at inference, generation settings, ids,
// names), else a function reporting why the value is not implemented.
func gpt2Fields() map[string]func(v any) error {
	return inertFields(map[string]func(v any) error{
		// Read into gpt2Config.
		"vocab_size": nil, "n_positions": nil, "n_ctx": nil, "n_embd": nil,
		"n_layer": nil, "n_head": nil, "n_inner": nil, "activation_function": nil,
		"layer_norm_epsilon": nil, "initializer_range": nil, "tie_word_embeddings": nil,
		"scale_attn_weights": nil, "scale_attn_by_inverse_layer_idx": nil,
		// Computation Workbench does not implement, accepted at its default.
		"add_cross_attention":  off(false),
		"is_encoder_decoder":   off(false),
		"output_attentions":    off(false),
		"output_hidden_states": off(false),
		"pruned_heads":         emptyObject,
		// No effect on the logits of a causal LM in float32: dropout
		// (inference), attention upcasting (float32 already), the sequence
		// summary of GPT2DoubleHeadsModel.
		"attn_pdrop": nil, "embd_pdrop": nil, "resid_pdrop": nil, "summary_first_dropout": nil,
		"reorder_and_upcast_attn": nil, "summary_activation": nil, "summary_proj_to_labels": nil,
		"summary_type": nil, "summary_use_proj": nil, "task_specific_params": nil,
	})
}

func emptyObject(v any) error {
	if m, ok := v.(map[string]any); v != nil && (!ok || len(m) > 0) {
		return fmt.Errorf("%s is not implemented (only {})", jsonText(v))
	}
	return nil
}

// checkFields refuses every key of the JSON object b that checks does not
// list, or whose check fails; errors name the field, sorted by name.
func checkFields(b []byte, checks map[string]func(v any) error) error {
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	var errs []error
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		check, ok := checks[k]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("unknown field %q", k))
		case check != nil:
			if err := check(raw[k]); err != nil {
				errs = append(errs, fmt.Errorf("field %q: %w", k, err))
			}
		}
	}
	return errors.Join(errs...)
}

// decodeConfig checks the fields of config.json b against fields (see
// checkFields) and decodes it into dst.
func decodeConfig(b []byte, fields map[string]func(v any) error, dst any) error {
	if err := checkFields(b, fields); err != nil {
		return err
	}
	return json.Unmarshal(b, dst)
}

// headDim returns hidden/heads, the d_head of a config that states the
// hidden size and head count under the names given, or an error when heads
// does not divide hidden (0 when heads is not positive: Validate reports it).
func headDim(hidden, heads int, hiddenName, headsName string) (int, error) {
	if heads <= 0 {
		return 0, nil
	}
	if hidden%heads != 0 {
		return 0, fmt.Errorf("%s %d is not a multiple of %s %d", hiddenName, hidden, headsName, heads)
	}
	return hidden / heads, nil
}

// off returns a check accepting null or exactly want.
func off(want any) func(v any) error {
	return func(v any) error {
		if v != nil && v != want {
			return fmt.Errorf("%v is not implemented (only %v)", jsonText(v), want)
		}
		return nil
	}
}

// inertFields adds to m the fields every Hugging Face config may hold that
// do not change a causal LM's logits in float32: generation and tokenizer
// settings, ids, labels and provenance.
func inertFields(m map[string]func(v any) error) map[string]func(v any) error {
	for _, k := range []string{
		"bos_token_id", "eos_token_id", "pad_token_id", "sep_token_id",
		"decoder_start_token_id", "use_cache", "torch_dtype",
		"transformers_version", "_name_or_path", "id2label", "label2id",
		"tokenizer_class", "return_dict", "torchscript", "use_bfloat16",
		"is_decoder", "problem_type", "finetuning_task", "prefix",
		"max_length", "min_length", "do_sample", "early_stopping",
		"num_beams", "num_beam_groups", "temperature", "top_k", "top_p",
		"typical_p", "repetition_penalty", "length_penalty",
		"no_repeat_ngram_size", "encoder_no_repeat_ngram_size", "bad_words_ids",
		"num_return_sequences", "diversity_penalty", "chunk_size_feed_forward",
		"tie_encoder_decoder", "cross_attention_hidden_size", "model_type", "architectures",
	} {
		m[k] = nil
	}
	return m
}

// completeConfig sets c's eps, rotary base and initializer range from the
// optional config.json values that are present, fills the defaults and
// validates.
func completeConfig(c transformer.Config, eps, rotaryBase, initRange *float64) (transformer.Config, error) {
	for _, f := range []struct{ dst, v *float64 }{{&c.Eps, eps}, {&c.RotaryBase, rotaryBase}, {&c.InitRange, initRange}} {
		if f.v != nil {
			*f.dst = *f.v
		}
	}
	c = c.WithDefaults()
	return c, c.Validate()
}

// gpt2TLConfig converts config.json of a gpt2 model to a transformer.Config
// (TransformerLens's convert_hf_model_config mapping), refusing fields that
// are unknown or not implemented.
func gpt2TLConfig(b []byte) (transformer.Config, error) {
	if err := checkFields(b, gpt2Fields()); err != nil {
		return transformer.Config{}, fmt.Errorf("hf: config.json (gpt2): %w", err)
	}
	var g gpt2Config
	if err := json.Unmarshal(b, &g); err != nil {
		return transformer.Config{}, fmt.Errorf("hf: config.json (gpt2): %w", err)
	}
	c := transformer.Config{
		NLayers:                 g.NLayer,
		DModel:                  g.NEmbd,
		NHeads:                  g.NHead,
		DVocab:                  g.VocabSize,
		NCtx:                    g.NPositions,
		NormalizationType:       transformer.NormLN,
		PositionalEmbeddingType: transformer.PosStandard,
		ActFn:                   transformer.ActGELUNew,
		TiedEmbeddings:          g.TieWordEmbedding == nil || *g.TieWordEmbedding,
		Eps:                     1e-5,
	}
	if g.NHead > 0 {
		if g.NEmbd%g.NHead != 0 {
			return transformer.Config{}, fmt.Errorf("hf: config.json (gpt2): n_embd %d is not a multiple of n_head %d", g.NEmbd, g.NHead)
		}
		c.DHead = g.NEmbd / g.NHead
	}
	c.DMLP = 4 * g.NEmbd
	if g.NInner != nil {
		c.DMLP = *g.NInner
	}
	if g.NCtx != nil && *g.NCtx != g.NPositions {
		return transformer.Config{}, fmt.Errorf("hf: config.json (gpt2): n_ctx %d differs from n_positions %d (the rows of wpe)", *g.NCtx, g.NPositions)
	}
	if g.Activation != nil {
		act, err := activation(*g.Activation)
		if err != nil {
			return transformer.Config{}, fmt.Errorf("hf: config.json (gpt2): field \"activation_function\": %w", err)
		}
		c.ActFn = act
	}
	if g.ScaleAttn != nil && !*g.ScaleAttn {
		c.AttnScale = 1 // scores q·k, not q·k/√d_head
	}
	c.ScaleAttnByInverseLayerIdx = g.ScaleByLayer != nil && *g.ScaleByLayer // block l's scores further divided by l+1
	if g.LayerNormEps != nil {
		c.Eps = *g.LayerNormEps
	}
	if g.InitRange != nil {
		c.InitRange = *g.InitRange
	}
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return transformer.Config{}, fmt.Errorf("hf: config.json (gpt2): %w", err)
	}
	return c, nil
}

// activation maps a Hugging Face activation name (transformers' ACT2FN) to
// Workbench's; names of the same function map to one.
func activation(name string) (string, error) {
	switch name {
	case "gelu_new", "gelu_pytorch_tanh", "gelu_fast":
		// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) in each.
		return transformer.ActGELUNew, nil
	case "gelu":
		return transformer.ActGELU, nil
	case "relu":
		return transformer.ActReLU, nil
	}
	return "", fmt.Errorf("%q is not implemented (gelu_new, gelu_pytorch_tanh, gelu_fast, gelu, relu)", name)
}

// jsonText returns v as JSON, for messages.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
