package hf

import (
	"slices"
	"strconv"
	"strings"

	"github.com/mechinterp/workbench/transformer"
)

// gpt2Model converts the state dict of a GPT2LMHeadModel (or a bare
// GPT2Model, whose names lack the "transformer." prefix) to
// TransformerLens's names and layouts, as TransformerLens's
// convert_gpt2_weights does:
//
//	wte [V, d] → embed.W_E; wpe [n_ctx, d] → pos_embed.W_pos
//	h.L.ln_1, ln_2, ln_f (weight, bias) → blocks.L.ln1, ln2, ln_final (w, b)
//	h.L.attn.c_attn.weight [d, 3·H·dh] (Conv1D: [in, out]; columns q | k | v,
//	    each head's dh columns together) → attn.W_Q, W_K, W_V [H, d, dh]
//	h.L.attn.c_attn.bias [3·H·dh] → attn.b_Q, b_K, b_V [H, dh]
//	h.L.attn.c_proj.weight [H·dh, d] → attn.W_O [H, dh, d] (same memory)
//	h.L.mlp.c_fc [d, d_mlp], c_proj [d_mlp, d] → mlp.W_in, W_out (same memory)
//	lm_head [V, d] → unembed.W_U = lm_headᵀ, unless tied to wte (then W_U
//	    is W_Eᵀ by the config); unembed.b_U = 0 (GPT-2 has no output bias).
//
// The causal-mask buffers older checkpoints hold (h.L.attn.bias,
// h.L.attn.masked_bias) are ignored; any other tensor is an error.
func gpt2Model(src *source, cfg transformer.Config) (*transformer.Model, error) {
	pre := ""
	if _, ok := src.where["transformer.wte.weight"]; ok {
		pre = "transformer."
	}
	d, H, dh, V := cfg.DModel, cfg.NHeads, cfg.DHead, cfg.DVocab
	cv := newConversion(src)
	from, same := cv.from, cv.same
	same("embed.W_E", pre+"wte.weight", V, d)
	same("pos_embed.W_pos", pre+"wpe.weight", cfg.NCtx, d)
	for l := range cfg.NLayers {
		hf := pre + "h." + strconv.Itoa(l) + "."
		tl := "blocks." + strconv.Itoa(l) + "."
		same(tl+"ln1.w", hf+"ln_1.weight", d)
		same(tl+"ln1.b", hf+"ln_1.bias", d)
		for i, n := range []string{"Q", "K", "V"} {
			from(tl+"attn.W_"+n, hf+"attn.c_attn.weight", []int{d, 3 * H * dh}, func(dst, w []float32) {
				splitHeads(dst, w, d, 3*H*dh, i*H*dh, H, dh)
			})
			from(tl+"attn.b_"+n, hf+"attn.c_attn.bias", []int{3 * H * dh}, func(dst, b []float32) {
				copy(dst, b[i*H*dh:(i+1)*H*dh])
			})
		}
		same(tl+"attn.W_O", hf+"attn.c_proj.weight", H*dh, d)
		same(tl+"attn.b_O", hf+"attn.c_proj.bias", d)
		same(tl+"ln2.w", hf+"ln_2.weight", d)
		same(tl+"ln2.b", hf+"ln_2.bias", d)
		same(tl+"mlp.W_in", hf+"mlp.c_fc.weight", d, cfg.DMLP)
		same(tl+"mlp.b_in", hf+"mlp.c_fc.bias", cfg.DMLP)
		same(tl+"mlp.W_out", hf+"mlp.c_proj.weight", cfg.DMLP, d)
		same(tl+"mlp.b_out", hf+"mlp.c_proj.bias", d)
	}
	same("ln_final.w", pre+"ln_f.weight", d)
	same("ln_final.b", pre+"ln_f.bias", d)
	if cfg.TiedEmbeddings {
		cv.used["lm_head.weight"] = true // Hugging Face ties it to wte on load
	} else {
		from("unembed.W_U", "lm_head.weight", []int{V, d}, func(dst, w []float32) { transpose(dst, w, V, d) })
	}
	cv.zero("unembed.b_U") // GPT-2 has no output bias
	return cv.model("gpt2", cfg, func(name string) bool { return layerBuffer(name, pre+"h.", "attn.bias", "attn.masked_bias") })
}

// layerBuffer reports whether name is prefix + "L." + one of buffers (L a
// layer number): the causal-mask buffers that older checkpoints store
// beside the parameters.
func layerBuffer(name, prefix string, buffers ...string) bool {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return false
	}
	_, rest, _ = strings.Cut(rest, ".")
	return slices.Contains(buffers, rest)
}

// splitHeads writes columns [off, off+H·dh) of the row-major [rows, cols]
// matrix w into dst as [H, rows, dh]: head i's dh columns, row by row.
func splitHeads(dst, w []float32, rows, cols, off, H, dh int) {
	for i := range H {
		for r := range rows {
			copy(dst[(i*rows+r)*dh:(i*rows+r+1)*dh], w[r*cols+off+i*dh:])
		}
	}
}

// transpose writes into dst the row-major [cols, rows] transpose of the
// row-major [rows, cols] matrix w.
func transpose(dst, w []float32, rows, cols int) {
	for r := range rows {
		for c := range cols {
			dst[c*rows+r] = w[r*cols+c]
		}
	}
}
