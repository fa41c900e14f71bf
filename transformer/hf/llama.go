package hf

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/mechinterp/workbench/transformer"
)

// A llamaConfig is the part of a LlamaConfig (Hugging Face) that determines
// the computation. Pointers tell an absent or null field from a zero one.
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
}

// llamaFields returns, for every LlamaConfig field config.json may hold,
// its check (see gpt2Fields).
func llamaFields() map[string]func(v any) error {
	return inertFields(map[string]func(v any) error{
		// Read into llamaConfig.
		"vocab_size": nil, "hidden_size": nil, "intermediate_size": nil,
		"num_hidden_layers": nil, "num_attention_heads": nil, "num_key_value_heads": nil,
		"head_dim": nil, "hidden_act": nil, "max_position_embeddings": nil,
		"rms_norm_eps": nil, "rope_theta": nil, "initializer_range": nil,
		"tie_word_embeddings": nil,
		// Computation Workbench does not implement, accepted at its default.
		"rope_scaling":   off(nil),
		"attention_bias": off(false),
		"mlp_bias":       off(false),
		"pretraining_tp": off(1.0),
		// Dropout: no effect at inference.
		"attention_dropout": nil,
	})
}

// llamaTLConfig converts config.json of a llama model to a
// transformer.Config (TransformerLens's mapping for LlamaForCausalLM:
// RMS norm, rotary on the whole head with rotate-half pairing, SwiGLU,
// grouped-query attention), refusing fields that are unknown or not
// implemented.
func llamaTLConfig(b []byte) (transformer.Config, error) {
	fail := func(err error) (transformer.Config, error) {
		return transformer.Config{}, fmt.Errorf("hf: config.json (llama): %w", err)
	}
	if err := checkFields(b, llamaFields()); err != nil {
		return fail(err)
	}
	var g llamaConfig
	if err := json.Unmarshal(b, &g); err != nil {
		return fail(err)
	}
	c := transformer.Config{
		NLayers:                 g.NLayers,
		DModel:                  g.HiddenSize,
		NHeads:                  g.NHeads,
		DMLP:                    g.Intermediate,
		DVocab:                  g.VocabSize,
		NCtx:                    g.MaxPositions,
		NormalizationType:       transformer.NormRMS,
		PositionalEmbeddingType: transformer.PosRotary,
		GatedMLP:                true,
		ActFn:                   transformer.ActSiLU,
		TiedEmbeddings:          g.TieWordEmbedding != nil && *g.TieWordEmbedding,
		Eps:                     1e-6,
		RotaryBase:              10000,
	}
	if g.NHeads > 0 {
		if g.HiddenSize%g.NHeads != 0 {
			return fail(fmt.Errorf("hidden_size %d is not a multiple of num_attention_heads %d", g.HiddenSize, g.NHeads))
		}
		c.DHead = g.HiddenSize / g.NHeads
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
	c, err := completeConfig(c, g.RMSNormEps, g.RopeTheta, g.InitRange)
	if err != nil {
		return fail(err)
	}
	return c, nil
}

// llamaModel converts the state dict of a LlamaForCausalLM to
// TransformerLens's names and layouts, as TransformerLens's
// convert_llama_weights does (nn.Linear stores [out, in]):
//
//	model.embed_tokens [V, d] → embed.W_E; pos_embed.W_pos = 0 (unused)
//	layers.L.input_layernorm, post_attention_layernorm → blocks.L.ln1.w, ln2.w
//	self_attn.q_proj [H·dh, d] → attn.W_Q [H, d, dh]
//	self_attn.k_proj, v_proj [Hkv·dh, d] → attn._W_K, _W_V [Hkv, d, dh]
//	    (attn.W_K, W_V when Hkv = H); the rotate-half layout is kept
//	self_attn.o_proj [d, H·dh] → attn.W_O [H, dh, d] = o_projᵀ
//	mlp.gate_proj, up_proj [d_mlp, d] → mlp.W_gate, W_in [d, d_mlp] (transposed)
//	mlp.down_proj [d, d_mlp] → mlp.W_out [d_mlp, d] (transposed)
//	model.norm → ln_final.w; lm_head [V, d] → unembed.W_U = lm_headᵀ
//
// Every bias is zero (Llama has none). The rotary inv_freq buffers older
// checkpoints hold are ignored; any other tensor is an error.
func llamaModel(src *source, cfg transformer.Config) (*transformer.Model, error) {
	d, H, Hkv, dh, V, n := cfg.DModel, cfg.NHeads, cfg.NKeyValueHeads, cfg.DHead, cfg.DVocab, cfg.DMLP
	cv := newConversion(src)
	linear := func(tl, hf string, out, in int) { // nn.Linear [out, in] → [in, out]
		cv.from(tl, hf, []int{out, in}, func(dst, w []float32) { transpose(dst, w, out, in) })
	}
	heads := func(tl, hf string, h int) { // [h·dh, d] → [h, d, dh]
		cv.from(tl, hf, []int{h * dh, d}, func(dst, w []float32) {
			for hh := range h {
				for i := range d {
					for j := range dh {
						dst[(hh*d+i)*dh+j] = w[(hh*dh+j)*d+i]
					}
				}
			}
		})
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
		heads(tl+"attn.W_Q", hf+"self_attn.q_proj.weight", H)
		heads(tl+kv+"W_K", hf+"self_attn.k_proj.weight", Hkv)
		heads(tl+kv+"W_V", hf+"self_attn.v_proj.weight", Hkv)
		linear(tl+"attn.W_O", hf+"self_attn.o_proj.weight", d, H*dh)
		for _, b := range []string{"attn.b_Q", kv + "b_K", kv + "b_V", "attn.b_O", "mlp.b_in", "mlp.b_out"} {
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
	return cv.model("llama", cfg, func(name string) bool { return strings.HasSuffix(name, ".rotary_emb.inv_freq") })
}
