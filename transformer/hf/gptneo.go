package hf

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/mechinterp/workbench/transformer"
)

// A gptNeoConfig is the part of a GPTNeoConfig (Hugging Face) that
// determines the computation. Pointers tell an absent or null field from a
// zero one.
type gptNeoConfig struct {
	VocabSize        int               `json:"vocab_size"`
	MaxPositions     int               `json:"max_position_embeddings"`
	HiddenSize       int               `json:"hidden_size"`
	NLayers          int               `json:"num_layers"`
	NHeads           int               `json:"num_heads"`
	Intermediate     *int              `json:"intermediate_size"`
	AttentionTypes   []json.RawMessage `json:"attention_types"`
	AttentionLayers  []string          `json:"attention_layers"`
	WindowSize       *int              `json:"window_size"`
	Activation       *string           `json:"activation_function"`
	LayerNormEps     *float64          `json:"layer_norm_epsilon"`
	InitRange        *float64          `json:"initializer_range"`
	TieWordEmbedding *bool             `json:"tie_word_embeddings"`
}

// gptNeoFields returns, for every GPTNeoConfig field config.json may hold,
// its check (see gpt2Fields).
func gptNeoFields() map[string]func(v any) error {
	return inertFields(map[string]func(v any) error{
		// Read into gptNeoConfig.
		"vocab_size": nil, "max_position_embeddings": nil, "hidden_size": nil,
		"num_layers": nil, "num_heads": nil, "intermediate_size": nil,
		"attention_types": nil, "attention_layers": nil, "window_size": nil,
		"activation_function": nil, "layer_norm_epsilon": nil, "initializer_range": nil,
		"tie_word_embeddings": nil,
		// Dropout (no effect at inference), the sequence-classification
		// head's settings and training switches.
		"embed_dropout": nil, "resid_dropout": nil, "attention_dropout": nil,
		"classifier_dropout": nil, "summary_activation": nil, "summary_first_dropout": nil,
		"summary_proj_to_labels": nil, "summary_type": nil, "summary_use_proj": nil,
		"gradient_checkpointing": nil, "task_specific_params": nil,
	})
}

// maxAttentionLayers bounds the expansion of attention_types, so that a
// small config.json cannot ask for an unbounded list.
const maxAttentionLayers = 1 << 16

// expandAttentionTypes expands GPT-Neo's attention_types, a list of
// [pattern, repeats] pairs such as [[["global", "local"], 6]], into one
// entry per layer.
func expandAttentionTypes(types []json.RawMessage) ([]string, error) {
	var out []string
	for i, raw := range types {
		var pair []json.RawMessage
		if err := json.Unmarshal(raw, &pair); err != nil || len(pair) != 2 {
			return nil, fmt.Errorf("field \"attention_types\": entry %d is not a [pattern, repeats] pair", i)
		}
		var pattern []string
		var repeats int
		if json.Unmarshal(pair[0], &pattern) != nil || json.Unmarshal(pair[1], &repeats) != nil || repeats < 0 || repeats > 1<<16 {
			return nil, fmt.Errorf("field \"attention_types\": entry %d is not a [[\"global\"|\"local\", …], repeats] pair", i)
		}
		if len(out)+len(pattern)*repeats > maxAttentionLayers {
			return nil, fmt.Errorf("field \"attention_types\" expands to more than %d layers", maxAttentionLayers)
		}
		for range repeats {
			out = append(out, pattern...)
		}
	}
	return out, nil
}

// gptNeoTLConfig converts config.json of a gpt_neo model to a
// transformer.Config (TransformerLens's mapping for GPTNeoForCausalLM: LN,
// learned positions, no attention scaling, attn_types from the expanded
// attention_types with window_size, act_fn from activation_function),
// refusing fields that are unknown or not implemented.
func gptNeoTLConfig(b []byte) (transformer.Config, error) {
	fail := func(err error) (transformer.Config, error) {
		return transformer.Config{}, fmt.Errorf("hf: config.json (gpt_neo): %w", err)
	}
	var g gptNeoConfig
	if err := decodeConfig(b, gptNeoFields(), &g); err != nil {
		return fail(err)
	}
	c := transformer.Config{
		NLayers:                 g.NLayers,
		DModel:                  g.HiddenSize,
		NHeads:                  g.NHeads,
		DMLP:                    4 * g.HiddenSize,
		DVocab:                  g.VocabSize,
		NCtx:                    g.MaxPositions,
		NormalizationType:       transformer.NormLN,
		PositionalEmbeddingType: transformer.PosStandard,
		ActFn:                   transformer.ActGELUNew,
		TiedEmbeddings:          g.TieWordEmbedding == nil || *g.TieWordEmbedding,
		Eps:                     1e-5,
		AttnScale:               1, // GPT-Neo does not scale its attention scores
	}
	var err error
	if c.DHead, err = headDim(g.HiddenSize, g.NHeads, "hidden_size", "num_heads"); err != nil {
		return fail(err)
	}
	if g.Intermediate != nil {
		c.DMLP = *g.Intermediate
	}
	layers, err := expandAttentionTypes(g.AttentionTypes)
	if err != nil {
		return fail(err)
	}
	if g.AttentionLayers != nil && !slices.Equal(g.AttentionLayers, layers) {
		return fail(fmt.Errorf("field \"attention_layers\" %v differs from attention_types expanded, %v", g.AttentionLayers, layers))
	}
	if len(layers) != g.NLayers {
		return fail(fmt.Errorf("field \"attention_types\" gives %d layers, num_layers is %d", len(layers), g.NLayers))
	}
	if c.AttnTypes, err = transformer.NewAttnTypes(layers...); err != nil {
		return fail(err)
	}
	c.UseLocalAttn = true
	if g.WindowSize != nil {
		c.WindowSize = *g.WindowSize
	}
	if !slices.Contains(layers, transformer.AttnLocal) {
		c.UseLocalAttn, c.AttnTypes, c.WindowSize = false, "", 0 // every layer global: the plain causal model
	}
	if g.Activation != nil {
		act, err := activation(*g.Activation)
		if err != nil {
			return fail(fmt.Errorf("field \"activation_function\": %w", err))
		}
		c.ActFn = act
	}
	c, err = completeConfig(c, g.LayerNormEps, nil, g.InitRange)
	if err != nil {
		return fail(err)
	}
	return c, nil
}

// gptNeoModel converts the state dict of a GPTNeoForCausalLM (or a bare
// GPTNeoModel, whose names lack the "transformer." prefix) to
// TransformerLens's names and layouts, as TransformerLens's
// convert_neo_weights does (nn.Linear stores [out, in]):
//
//	wte [V, d] → embed.W_E; wpe [n_ctx, d] → pos_embed.W_pos
//	h.L.ln_1, ln_2, ln_f (weight, bias) → blocks.L.ln1, ln2, ln_final (w, b)
//	h.L.attn.attention.q_proj, k_proj, v_proj [H·dh, d] (no bias)
//	    → attn.W_Q, W_K, W_V [H, d, dh]; b_Q, b_K, b_V = 0
//	h.L.attn.attention.out_proj [d, H·dh] → attn.W_O = out_projᵀ; bias → b_O
//	h.L.mlp.c_fc, c_proj (nn.Linear, not GPT-2's Conv1D) → mlp.W_in, W_out
//	    (transposed), biases
//	lm_head [V, d] → unembed.W_U = lm_headᵀ, unless tied to wte.
//
// The causal-mask buffers (h.L.attn.attention.bias, masked_bias) are
// ignored; any other tensor is an error.
func gptNeoModel(src *source, cfg transformer.Config) (*transformer.Model, error) {
	pre := ""
	if _, ok := src.where["transformer.wte.weight"]; ok {
		pre = "transformer."
	}
	d, H, dh, V, n := cfg.DModel, cfg.NHeads, cfg.DHead, cfg.DVocab, cfg.DMLP
	cv := newConversion(src)
	linear := func(tl, hf string, out, in int) {
		cv.from(tl, hf, []int{out, in}, func(dst, w []float32) { transpose(dst, w, out, in) })
	}
	cv.same("embed.W_E", pre+"wte.weight", V, d)
	cv.same("pos_embed.W_pos", pre+"wpe.weight", cfg.NCtx, d)
	for l := range cfg.NLayers {
		hf := pre + "h." + strconv.Itoa(l) + "."
		tl := "blocks." + strconv.Itoa(l) + "."
		cv.same(tl+"ln1.w", hf+"ln_1.weight", d)
		cv.same(tl+"ln1.b", hf+"ln_1.bias", d)
		for _, p := range []struct{ tl, hf string }{{"Q", "q_proj"}, {"K", "k_proj"}, {"V", "v_proj"}} {
			cv.heads(tl+"attn.W_"+p.tl, hf+"attn.attention."+p.hf+".weight", H, dh, d)
			cv.zero(tl + "attn.b_" + p.tl)
		}
		linear(tl+"attn.W_O", hf+"attn.attention.out_proj.weight", d, H*dh)
		cv.same(tl+"attn.b_O", hf+"attn.attention.out_proj.bias", d)
		cv.same(tl+"ln2.w", hf+"ln_2.weight", d)
		cv.same(tl+"ln2.b", hf+"ln_2.bias", d)
		linear(tl+"mlp.W_in", hf+"mlp.c_fc.weight", n, d)
		cv.same(tl+"mlp.b_in", hf+"mlp.c_fc.bias", n)
		linear(tl+"mlp.W_out", hf+"mlp.c_proj.weight", d, n)
		cv.same(tl+"mlp.b_out", hf+"mlp.c_proj.bias", d)
	}
	cv.same("ln_final.w", pre+"ln_f.weight", d)
	cv.same("ln_final.b", pre+"ln_f.bias", d)
	if cfg.TiedEmbeddings {
		cv.used["lm_head.weight"] = true // Hugging Face ties it to wte on load
	} else {
		linear("unembed.W_U", "lm_head.weight", V, d)
	}
	cv.zero("unembed.b_U")
	return cv.model("gpt_neo", cfg, func(name string) bool {
		return layerBuffer(name, pre+"h.", "attn.attention.bias", "attn.attention.masked_bias")
	})
}
