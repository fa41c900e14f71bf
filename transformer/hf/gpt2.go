package hf

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/mechinterp/workbench/checkpoint"
	"github.com/mechinterp/workbench/transformer"
)

// gpt2Tensors converts the state dict of a GPT2LMHeadModel (or a bare
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
func gpt2Tensors(src *source, cfg transformer.Config) ([]checkpoint.Tensor, error) {
	pre := ""
	if _, ok := src.where["transformer.wte.weight"]; ok {
		pre = "transformer."
	}
	d, H, dh, V := cfg.DModel, cfg.NHeads, cfg.DHead, cfg.DVocab
	used := map[string]bool{}
	var out []checkpoint.Tensor
	var errs []error
	get := func(name string, shape ...int) []float32 {
		used[name] = true
		x, err := src.tensor(name, shape...)
		if err != nil {
			errs = append(errs, err)
		}
		return x
	}
	add := func(name string, shape []int, data []float32) {
		if data != nil {
			out = append(out, checkpoint.Tensor{Name: name, Shape: shape, Data: data})
		}
	}
	add("embed.W_E", []int{V, d}, get(pre+"wte.weight", V, d))
	add("pos_embed.W_pos", []int{cfg.NCtx, d}, get(pre+"wpe.weight", cfg.NCtx, d))
	for l := range cfg.NLayers {
		hf := pre + "h." + strconv.Itoa(l) + "."
		tl := "blocks." + strconv.Itoa(l) + "."
		add(tl+"ln1.w", []int{d}, get(hf+"ln_1.weight", d))
		add(tl+"ln1.b", []int{d}, get(hf+"ln_1.bias", d))
		if w := get(hf+"attn.c_attn.weight", d, 3*H*dh); w != nil {
			for i, n := range []string{"W_Q", "W_K", "W_V"} {
				add(tl+"attn."+n, []int{H, d, dh}, splitHeads(w, d, 3*H*dh, i*H*dh, H, dh))
			}
		}
		if b := get(hf+"attn.c_attn.bias", 3*H*dh); b != nil {
			for i, n := range []string{"b_Q", "b_K", "b_V"} {
				add(tl+"attn."+n, []int{H, dh}, b[i*H*dh:(i+1)*H*dh])
			}
		}
		add(tl+"attn.W_O", []int{H, dh, d}, get(hf+"attn.c_proj.weight", H*dh, d))
		add(tl+"attn.b_O", []int{d}, get(hf+"attn.c_proj.bias", d))
		add(tl+"ln2.w", []int{d}, get(hf+"ln_2.weight", d))
		add(tl+"ln2.b", []int{d}, get(hf+"ln_2.bias", d))
		add(tl+"mlp.W_in", []int{d, cfg.DMLP}, get(hf+"mlp.c_fc.weight", d, cfg.DMLP))
		add(tl+"mlp.b_in", []int{cfg.DMLP}, get(hf+"mlp.c_fc.bias", cfg.DMLP))
		add(tl+"mlp.W_out", []int{cfg.DMLP, d}, get(hf+"mlp.c_proj.weight", cfg.DMLP, d))
		add(tl+"mlp.b_out", []int{d}, get(hf+"mlp.c_proj.bias", d))
	}
	add("ln_final.w", []int{d}, get(pre+"ln_f.weight", d))
	add("ln_final.b", []int{d}, get(pre+"ln_f.bias", d))
	if cfg.TiedEmbeddings {
		used["lm_head.weight"] = true // Hugging Face ties it to wte on load
	} else if w := get("lm_head.weight", V, d); w != nil {
		add("unembed.W_U", []int{d, V}, transpose(w, V, d))
	}
	add("unembed.b_U", []int{V}, make([]float32, V))
	for _, name := range src.names() {
		if !used[name] && !gpt2Buffer(pre, name) {
			errs = append(errs, fmt.Errorf("hf: unexpected tensor %q for this gpt2 config", name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// gpt2Buffer reports whether name is one of the causal-mask buffers that
// older GPT-2 checkpoints store beside the parameters.
func gpt2Buffer(pre, name string) bool {
	rest, ok := strings.CutPrefix(name, pre+"h.")
	if !ok {
		return false
	}
	_, rest, _ = strings.Cut(rest, ".")
	return rest == "attn.bias" || rest == "attn.masked_bias"
}

// splitHeads returns columns [off, off+H·dh) of the row-major [rows, cols]
// matrix w as [H, rows, dh]: head i's dh columns, row by row.
func splitHeads(w []float32, rows, cols, off, H, dh int) []float32 {
	out := make([]float32, H*rows*dh)
	for i := range H {
		for r := range rows {
			copy(out[(i*rows+r)*dh:(i*rows+r+1)*dh], w[r*cols+off+i*dh:])
		}
	}
	return out
}

// transpose returns the row-major [cols, rows] transpose of the row-major
// [rows, cols] matrix w.
func transpose(w []float32, rows, cols int) []float32 {
	out := make([]float32, len(w))
	for r := range rows {
		for c := range cols {
			out[c*rows+r] = w[r*cols+c]
		}
	}
	return out
}
