package hf

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mechinterp/workbench/transformer"
)

// A neoxConfig is the part of a GPTNeoXConfig (Hugging Face) that
// determines the computation.
type neoxConfig struct {
	VocabSize        int      `json:"vocab_size"`
	HiddenSize       int      `json:"hidden_size"`
	Intermediate     int      `json:"intermediate_size"`
	NLayers          int      `json:"num_hidden_layers"`
	NHeads           int      `json:"num_attention_heads"`
	HiddenAct        *string  `json:"hidden_act"`
	RotaryPct        *float64 `json:"rotary_pct"`
	RotaryBase       *float64 `json:"rotary_emb_base"`
	MaxPositions     int      `json:"max_position_embeddings"`
	LayerNormEps     *float64 `json:"layer_norm_eps"`
	ParallelResidual *bool    `json:"use_parallel_residual"`
	InitRange        *float64 `json:"initializer_range"`
	TieWordEmbedding *bool    `json:"tie_word_embeddings"`
}

// neoxFields returns, for every GPTNeoXConfig field config.json may hold,
// its check (see gpt2Fields).
func neoxFields() map[string]func(v any) error {
	return inertFields(map[string]func(v any) error{
		// Read into neoxConfig.
		"vocab_size": nil, "hidden_size": nil, "intermediate_size": nil,
		"num_hidden_layers": nil, "num_attention_heads": nil, "hidden_act": nil,
		"rotary_pct": nil, "rotary_emb_base": nil, "max_position_embeddings": nil,
		"layer_norm_eps": nil, "use_parallel_residual": nil, "initializer_range": nil,
		"tie_word_embeddings": nil,
		// Computation Workbench does not implement, accepted at its default.
		"rope_scaling":   off(nil),
		"attention_bias": off(true),
		// Dropout: no effect at inference.
		"attention_dropout": nil, "hidden_dropout": nil, "classifier_dropout": nil,
	})
}

// neoxTLConfig converts config.json of a gpt_neox model (Pythia) to a
// transformer.Config (TransformerLens's mapping: LN, rotary on
// int(rotary_pct·d_head) dimensions with rotate-half pairing, parallel
// attention and MLP per use_parallel_residual), refusing fields that are
// unknown or not implemented.
func neoxTLConfig(b []byte) (transformer.Config, error) {
	fail := func(err error) (transformer.Config, error) {
		return transformer.Config{}, fmt.Errorf("hf: config.json (gpt_neox): %w", err)
	}
	var g neoxConfig
	if err := decodeConfig(b, neoxFields(), &g); err != nil {
		return fail(err)
	}
	c := transformer.Config{
		NLayers:                 g.NLayers,
		DModel:                  g.HiddenSize,
		NHeads:                  g.NHeads,
		DMLP:                    g.Intermediate,
		DVocab:                  g.VocabSize,
		NCtx:                    g.MaxPositions,
		NormalizationType:       transformer.NormLN,
		PositionalEmbeddingType: transformer.PosRotary,
		ActFn:                   transformer.ActGELU,
		TiedEmbeddings:          g.TieWordEmbedding != nil && *g.TieWordEmbedding,
		Eps:                     1e-5,
		RotaryBase:              10000,
		ParallelAttnMLP:         g.ParallelResidual == nil || *g.ParallelResidual,
	}
	var err error
	if c.DHead, err = headDim(g.HiddenSize, g.NHeads, "hidden_size", "num_attention_heads"); err != nil {
		return fail(err)
	}
	pct := 0.25
	if g.RotaryPct != nil {
		pct = *g.RotaryPct
	}
	if !(pct > 0 && pct <= 1) {
		return fail(fmt.Errorf("field \"rotary_pct\": %g is not in (0, 1]", pct))
	}
	c.RotaryDim = int(float64(c.DHead) * pct)
	if g.HiddenAct != nil {
		act, err := activation(*g.HiddenAct)
		if err != nil {
			return fail(fmt.Errorf("field \"hidden_act\": %w", err))
		}
		c.ActFn = act
	}
	c, err = completeConfig(c, g.LayerNormEps, g.RotaryBase, g.InitRange)
	if err != nil {
		return fail(err)
	}
	return c, nil
}

// neoxModel converts the state dict of a GPTNeoXForCausalLM to
// TransformerLens's names and layouts, as TransformerLens's
// convert_neox_weights does (nn.Linear stores [out, in]):
//
//	gpt_neox.embed_in [V, d] → embed.W_E; pos_embed.W_pos = 0 (unused)
//	layers.L.input_layernorm, post_attention_layernorm → blocks.L.ln1, ln2 (w, b)
//	attention.query_key_value [H·3·dh, d], per head interleaved: rows
//	    (h·3 + i)·dh … +dh are head h's q (i=0), k (1), v (2)
//	    → attn.W_Q, W_K, W_V [H, d, dh]; its bias → b_Q, b_K, b_V [H, dh]
//	attention.dense [d, H·dh] → attn.W_O = denseᵀ; bias → b_O
//	mlp.dense_h_to_4h, dense_4h_to_h → mlp.W_in, W_out (transposed), biases
//	final_layer_norm → ln_final; embed_out [V, d] → unembed.W_U = embed_outᵀ
//
// The attention mask and rotary buffers some checkpoints hold are ignored;
// any other tensor is an error.
func neoxModel(src *source, cfg transformer.Config) (*transformer.Model, error) {
	d, H, dh, V, n := cfg.DModel, cfg.NHeads, cfg.DHead, cfg.DVocab, cfg.DMLP
	cv := newConversion(src)
	linear := func(tl, hf string, out, in int) {
		cv.from(tl, hf, []int{out, in}, func(dst, w []float32) { transpose(dst, w, out, in) })
	}
	cv.same("embed.W_E", "gpt_neox.embed_in.weight", V, d)
	cv.zero("pos_embed.W_pos")
	for l := range cfg.NLayers {
		hf := "gpt_neox.layers." + strconv.Itoa(l) + "."
		tl := "blocks." + strconv.Itoa(l) + "."
		cv.same(tl+"ln1.w", hf+"input_layernorm.weight", d)
		cv.same(tl+"ln1.b", hf+"input_layernorm.bias", d)
		for i, name := range []string{"Q", "K", "V"} {
			cv.from(tl+"attn.W_"+name, hf+"attention.query_key_value.weight", []int{3 * H * dh, d}, func(dst, w []float32) {
				for h := range H {
					for r := range d {
						for j := range dh {
							dst[(h*d+r)*dh+j] = w[((h*3+i)*dh+j)*d+r]
						}
					}
				}
			})
			cv.from(tl+"attn.b_"+name, hf+"attention.query_key_value.bias", []int{3 * H * dh}, func(dst, b []float32) {
				for h := range H {
					copy(dst[h*dh:(h+1)*dh], b[(h*3+i)*dh:])
				}
			})
		}
		linear(tl+"attn.W_O", hf+"attention.dense.weight", d, H*dh)
		cv.same(tl+"attn.b_O", hf+"attention.dense.bias", d)
		cv.same(tl+"ln2.w", hf+"post_attention_layernorm.weight", d)
		cv.same(tl+"ln2.b", hf+"post_attention_layernorm.bias", d)
		linear(tl+"mlp.W_in", hf+"mlp.dense_h_to_4h.weight", n, d)
		cv.same(tl+"mlp.b_in", hf+"mlp.dense_h_to_4h.bias", n)
		linear(tl+"mlp.W_out", hf+"mlp.dense_4h_to_h.weight", d, n)
		cv.same(tl+"mlp.b_out", hf+"mlp.dense_4h_to_h.bias", d)
	}
	cv.same("ln_final.w", "gpt_neox.final_layer_norm.weight", d)
	cv.same("ln_final.b", "gpt_neox.final_layer_norm.bias", d)
	if cfg.TiedEmbeddings {
		cv.used["embed_out.weight"] = true // Hugging Face ties it to embed_in on load
	} else {
		linear("unembed.W_U", "embed_out.weight", V, d)
	}
	cv.zero("unembed.b_U")
	return cv.model("gpt_neox", cfg, func(name string) bool {
		for _, b := range []string{".attention.bias", ".attention.masked_bias", ".attention.rotary_emb.inv_freq"} {
			if strings.HasPrefix(name, "gpt_neox.layers.") && strings.HasSuffix(name, b) {
				return true
			}
		}
		return false
	})
}
