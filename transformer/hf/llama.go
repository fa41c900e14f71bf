package hf

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mechinterp/workbench/transformer"
)

// A llamaConfig is the part of a LlamaConfig (Hugging Face), or of the
// configs of the Llama-shaped Qwen2 and Mistral, that determines the
// computation. Pointers tell an absent or null field from a zero one.
type llamaConfig struct {
	VocabSize        int      `json:"vocab_size"`
	HiddenSize       int      `json:"hidden_size"`
	Intermediate     int      `json:"intermediate_size"`
	NLayers          int      `json:"num_hidden_layers"`
	NHeads           int      `json:"num_attention_heads"`
	NKVHeads         *int     `json:"num_key_value_heads"`
	HeadDim          *int     `json:"head_dim"`
	HiddenAct        *string  `json:"hidden_act"`
	MaxPositions     int      `json:"max_position_embeddings"`
	RMSNormEps       *float64 `json:"rms_norm_eps"`
	RopeTheta        *float64 `json:"rope_theta"`
	InitRange        *float64 `json:"initializer_range"`
	TieWordEmbedding *bool    `json:"tie_word_embeddings"`
	SlidingWindow    *int     `json:"sliding_window"` // mistral only (see mistralFields)
	RopeParameters   *struct {
		RopeTheta *float64 `json:"rope_theta"`
	} `json:"rope_parameters"` // transformers 5's home of rope_theta (see ropeParameters)
}

// llamaFamilyFields returns the checks (see gpt2Fields) of the fields
// LlamaConfig, Qwen2Config and MistralConfig share, with extra added.
func llamaFamilyFields(extra map[string]func(v any) error) map[string]func(v any) error {
	m := inertFields(map[string]func(v any) error{
		// Read into llamaConfig.
		"vocab_size": nil, "hidden_size": nil, "intermediate_size": nil,
		"num_hidden_layers": nil, "num_attention_heads": nil, "num_key_value_heads": nil,
		"head_dim": nil, "hidden_act": nil, "max_position_embeddings": nil,
		"rms_norm_eps": nil, "rope_theta": nil, "initializer_range": nil,
		"tie_word_embeddings": nil,
		"rope_parameters":     ropeParameters,
		// Computation Workbench does not implement, accepted at its default.
		"rope_scaling": off(nil),
		// Dropout: no effect at inference.
		"attention_dropout": nil,
		// Written by nanotron's export (SmolLM2), ignored by transformers:
		// the weights are in the rotate-half layout LlamaForCausalLM uses.
		"is_llama_config":  nil,
		"rope_interleaved": off(false),
	})
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// llamaFields returns, for every LlamaConfig field config.json may hold,
// its check (see gpt2Fields).
func llamaFields() map[string]func(v any) error {
	return llamaFamilyFields(map[string]func(v any) error{
		"attention_bias": off(false),
		"mlp_bias":       off(false),
		"pretraining_tp": off(1.0),
	})
}

// qwen2Fields returns the checks of Qwen2Config's fields. Qwen2's sliding
// window acts only with use_sliding_window true, which is refused (which
// layers it applies to changed across transformers versions); the window
// settings are inert without it.
func qwen2Fields() map[string]func(v any) error {
	return llamaFamilyFields(map[string]func(v any) error{
		"use_sliding_window": off(false),
		"sliding_window":     nil,
		"max_window_layers":  nil,
		"layer_types":        everyEntry("full_attention"),
	})
}

// mistralFields returns the checks of MistralConfig's fields;
// sliding_window is read (see llamaTLConfig).
func mistralFields() map[string]func(v any) error {
	return llamaFamilyFields(map[string]func(v any) error{"sliding_window": nil})
}

// ropeParameters accepts transformers 5's rope_parameters when it describes
// plain rotary embeddings: rope_type "default" and rope_theta (read into
// llamaConfig), nothing else (scaling types and their factors are refused).
func ropeParameters(v any) error {
	m, ok := v.(map[string]any)
	if v == nil {
		return nil
	}
	if !ok {
		return fmt.Errorf("%s is not an object", jsonText(v))
	}
	for k, x := range m {
		switch {
		case k == "rope_theta":
		case k == "rope_type" && (x == "default" || x == nil):
		default:
			return fmt.Errorf("%s is not implemented (only rope_type \"default\" with rope_theta)", jsonText(v))
		}
	}
	return nil
}

// everyEntry returns a check accepting null or a list whose entries all
// equal want.
func everyEntry(want string) func(v any) error {
	return func(v any) error {
		list, ok := v.([]any)
		if v == nil {
			return nil
		}
		for _, e := range list {
			if e != want {
				ok = false
			}
		}
		if !ok {
			return fmt.Errorf("%s is not implemented (only a list of %q)", jsonText(v), want)
		}
		return nil
	}
}

// llamaTLConfig converts config.json of a llama, qwen2 or mistral model
// (modelType) to a transformer.Config (TransformerLens's mapping for
// LlamaForCausalLM: RMS norm, rotary on the whole head with rotate-half
// pairing, SwiGLU, grouped-query attention), refusing fields that are
// unknown or not implemented.
//
// Mistral's sliding_window becomes local attention (use_local_attn) on
// every block with window_size = sliding_window: query i reads keys
// i − sliding_window < j ≤ i, the mask of current transformers
// (masking_utils' sliding_window_overlay) and the banded mask
// TransformerLens builds for window_size. Mistral's reference code and
// transformers 4.38–4.47 let a query read one key more (i − sliding_window
// ≤ j); logits agree with those up to position sliding_window − 1 and may
// differ after. A window of at least max_position_embeddings never masks
// anything and is left out.
func llamaTLConfig(modelType string, b []byte) (transformer.Config, error) {
	fail := func(err error) (transformer.Config, error) {
		return transformer.Config{}, fmt.Errorf("hf: config.json (%s): %w", modelType, err)
	}
	fields := map[string]func() map[string]func(v any) error{"llama": llamaFields, "qwen2": qwen2Fields, "mistral": mistralFields}[modelType]
	var g llamaConfig
	if err := decodeConfig(b, fields(), &g); err != nil {
		return fail(err)
	}
	c := transformer.Config{
		NLayers:                 g.NLayers,
		DModel:                  g.HiddenSize,
		NHeads:                  g.NHeads,
		DMLP:                    g.Intermediate,
		DVocab:                  g.VocabSize,
		NCtx:                    min(g.MaxPositions, transformer.MaxNCtx), // rotary: n_ctx only bounds positions (Qwen2 and Llama 3 state 131,072)
		NormalizationType:       transformer.NormRMS,
		PositionalEmbeddingType: transformer.PosRotary,
		GatedMLP:                true,
		ActFn:                   transformer.ActSiLU,
		TiedEmbeddings:          g.TieWordEmbedding != nil && *g.TieWordEmbedding,
		Eps:                     1e-6,
		RotaryBase:              10000,
	}
	var err error
	if c.DHead, err = headDim(g.HiddenSize, g.NHeads, "hidden_size", "num_attention_heads"); err != nil {
		return fail(err)
	}
	if g.HeadDim != nil && *g.HeadDim != c.DHead {
		return fail(fmt.Errorf("field \"head_dim\": %d is not implemented (only hidden_size/num_attention_heads, %d)", *g.HeadDim, c.DHead))
	}
	c.RotaryDim = c.DHead
	if g.NKVHeads != nil {
		c.NKeyValueHeads = *g.NKVHeads
	}
	if g.HiddenAct != nil && *g.HiddenAct != "silu" {
		return fail(fmt.Errorf("field \"hidden_act\": %q is not implemented (only silu)", *g.HiddenAct))
	}
	if w := g.SlidingWindow; modelType == "mistral" && w != nil && *w < g.MaxPositions {
		if *w < 1 {
			return fail(fmt.Errorf("field \"sliding_window\": %d is not positive", *w))
		}
		local := make([]string, g.NLayers)
		for i := range local {
			local[i] = transformer.AttnLocal
		}
		types, err := transformer.NewAttnTypes(local...)
		if err != nil {
			return fail(err)
		}
		c.UseLocalAttn, c.AttnTypes, c.WindowSize = true, types, *w
	}
	theta := g.RopeTheta
	if p := g.RopeParameters; p != nil && p.RopeTheta != nil {
		if theta != nil && *theta != *p.RopeTheta {
			return fail(fmt.Errorf("rope_theta %g differs from rope_parameters.rope_theta %g", *theta, *p.RopeTheta))
		}
		theta = p.RopeTheta
	}
	c, err = completeConfig(c, g.RMSNormEps, theta, g.InitRange)
	if err != nil {
		return fail(err)
	}
	return c, nil
}

// llamaModel converts the state dict of a LlamaForCausalLM,
// MistralForCausalLM or (with qkvBias) Qwen2ForCausalLM to
// TransformerLens's names and layouts, as TransformerLens's
// convert_llama_weights and convert_qwen2_weights do (nn.Linear stores
// [out, in]):
//
//	model.embed_tokens [V, d] → embed.W_E; pos_embed.W_pos = 0 (unused)
//	layers.L.input_layernorm, post_attention_layernorm → blocks.L.ln1.w, ln2.w
//	self_attn.q_proj [H·dh, d] → attn.W_Q [H, d, dh]
//	self_attn.k_proj, v_proj [Hkv·dh, d] → attn._W_K, _W_V [Hkv, d, dh]
//	    (attn.W_K, W_V when Hkv = H); the rotate-half layout is kept
//	qkvBias (Qwen2): self_attn.q_proj.bias [H·dh], k_proj.bias, v_proj.bias
//	    [Hkv·dh] → attn.b_Q [H, dh], (_)b_K, (_)b_V [Hkv, dh] (same memory)
//	self_attn.o_proj [d, H·dh] → attn.W_O [H, dh, d] = o_projᵀ
//	mlp.gate_proj, up_proj [d_mlp, d] → mlp.W_gate, W_in [d, d_mlp] (transposed)
//	mlp.down_proj [d, d_mlp] → mlp.W_out [d_mlp, d] (transposed)
//	model.norm → ln_final.w; lm_head [V, d] → unembed.W_U = lm_headᵀ
//
// Every other bias is zero (none of them has one). The rotary inv_freq
// buffers older checkpoints hold are ignored; any other tensor is an error.
func llamaModel(src *source, cfg transformer.Config, arch string, qkvBias bool) (*transformer.Model, error) {
	d, H, Hkv, dh, V, n := cfg.DModel, cfg.NHeads, cfg.NKeyValueHeads, cfg.DHead, cfg.DVocab, cfg.DMLP
	cv := newConversion(src)
	linear := func(tl, hf string, out, in int) { // nn.Linear [out, in] → [in, out]
		cv.from(tl, hf, []int{out, in}, func(dst, w []float32) { transpose(dst, w, out, in) })
	}
	kv := "attn."
	if Hkv < H {
		kv = "attn._"
	}
	cv.same("embed.W_E", "model.embed_tokens.weight", V, d)
	cv.zero("pos_embed.W_pos")
	for l := range cfg.NLayers {
		hf := "model.layers." + strconv.Itoa(l) + "."
		tl := "blocks." + strconv.Itoa(l) + "."
		cv.same(tl+"ln1.w", hf+"input_layernorm.weight", d)
		cv.heads(tl+"attn.W_Q", hf+"self_attn.q_proj.weight", H, dh, d)
		cv.heads(tl+kv+"W_K", hf+"self_attn.k_proj.weight", Hkv, dh, d)
		cv.heads(tl+kv+"W_V", hf+"self_attn.v_proj.weight", Hkv, dh, d)
		linear(tl+"attn.W_O", hf+"self_attn.o_proj.weight", d, H*dh)
		zeros := []string{"attn.b_O", "mlp.b_in", "mlp.b_out"}
		if qkvBias {
			cv.same(tl+"attn.b_Q", hf+"self_attn.q_proj.bias", H*dh)
			cv.same(tl+kv+"b_K", hf+"self_attn.k_proj.bias", Hkv*dh)
			cv.same(tl+kv+"b_V", hf+"self_attn.v_proj.bias", Hkv*dh)
		} else {
			zeros = append(zeros, "attn.b_Q", kv+"b_K", kv+"b_V")
		}
		for _, b := range zeros {
			cv.zero(tl + b)
		}
		cv.same(tl+"ln2.w", hf+"post_attention_layernorm.weight", d)
		linear(tl+"mlp.W_gate", hf+"mlp.gate_proj.weight", n, d)
		linear(tl+"mlp.W_in", hf+"mlp.up_proj.weight", n, d)
		linear(tl+"mlp.W_out", hf+"mlp.down_proj.weight", d, n)
	}
	cv.same("ln_final.w", "model.norm.weight", d)
	if cfg.TiedEmbeddings {
		cv.used["lm_head.weight"] = true // Hugging Face ties it to embed_tokens on load
	} else {
		linear("unembed.W_U", "lm_head.weight", V, d)
	}
	cv.zero("unembed.b_U")
	return cv.model(arch, cfg, func(name string) bool { return strings.HasSuffix(name, ".rotary_emb.inv_freq") })
}
