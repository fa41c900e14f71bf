// Package hf loads Hugging Face model folders (config.json beside
// model.safetensors, or shards listed in model.safetensors.index.json) into
// an ordinary transformer.Model with TransformerLens parameter names, so
// that every analysis of Workbench runs on them.
//
// The conversion follows the architecture's definition in Hugging Face
// transformers and is explicit per model_type: gpt2 (GPT2LMHeadModel:
// Conv1D weights stored [in, out], q, k and v merged in c_attn, learned
// positions, lm_head tied to wte; scale_attn_weights and
// scale_attn_by_inverse_layer_idx map to attn_scale and
// scale_attn_by_inverse_layer_idx), gpt_neo (GPTNeoForCausalLM: separate
// bias-free q/k/v projections, no attention scaling, blocks alternating
// global and local attention per attention_types with window_size),
// gpt_neox (GPTNeoXForCausalLM, Pythia: fused per-head interleaved
// query_key_value, rotary on rotary_pct of each head, parallel attention
// and MLP), llama (LlamaForCausalLM: separate q/k/v/o projections with
// grouped-query attention, rotary embeddings in the rotate-half layout,
// SwiGLU, RMS norm; rope_scaling, attention_bias and mlp_bias are
// refused), qwen2 (Llama with biases on q, k and v; use_sliding_window
// refused) and mistral (Llama with sliding_window as local attention on
// every block). Reading is strict: a config.json field that would change
// the computation and that Workbench does not implement
// (add_cross_attention, rope_scaling, …) is an error naming it, and so is
// a field it does not know. Tensors of dtype F32, F16 and BF16 are
// converted to float32 exactly. pytorch_model.bin (a Python pickle) is
// refused with the conversion to run.
//
// testdata/ holds tiny random gpt_neo, qwen2, mistral and gpt2 (with
// scale_attn_by_inverse_layer_idx) folders (F32, F16,
// BF16) with logits from an independent float64 NumPy forward pass,
// made by testdata/make_fixtures.py.
//
// Nothing here keeps state between calls; functions are safe for
// concurrent use.
package hf
