// Package llama2c reads checkpoints of Andrej Karpathy's llama2.c
// (https://github.com/karpathy/llama2.c) into transformer.Model, in
// TransformerLens's names and layouts.
//
// # Formats
//
// Three layouts exist, all little-endian, matrices row-major [out, in] as
// PyTorch's nn.Linear stores them:
//
//   - legacy (export.py's version 0, run.c's format): a header of seven
//     int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size,
//     seq_len; a negative vocab_size means the classifier is not tied to
//     the token embedding and follows at the end), then float32
//     token_embedding [vocab, dim], rms_att [layers, dim], wq, wk, wv, wo,
//     rms_ffn, w1, w2, w3 (each for every layer in turn), rms_final [dim],
//     the rotary tables freq_cis_real and freq_cis_imag [seq_len,
//     head_size/2] (ignored: Workbench computes them), and wcls [vocab, dim]
//     if untied;
//   - version 1 ("ak42"): a 256-byte header (uint32 magic 0x616b3432,
//     int32 version, the seven int32 above with vocab_size positive, a
//     byte 1 if the classifier is tied, zero padding), then float32
//     rms_att, rms_ffn, rms_final, token_embedding, wq, wk, wv, wo, w1, w2,
//     w3 and wcls if untied;
//   - version 2 ("ak42", Q8_0): the version 1 header with an int32 group
//     size after the tie byte (at byte 37), then the norms in float32 as in
//     version 1, then token_embedding, wq, wk, wv, wo, w1, w2, w3 (and wcls)
//     as int8, then one float32 scale per group of group-size consecutive
//     int8 values, in the same order; a weight is int8 · scale. Load
//     dequantizes to float32.
//
// # The model
//
// llama2.c's transformer is Llama's: RMSNorm (eps 1e-5) before attention
// and MLP and at the end, rotary position embeddings on whole heads with
// adjacent pairs and base 10000 (TransformerLens's rotary_adjacent_pairs),
// grouped-query attention, a SwiGLU MLP w2(silu(w1·x) ⊙ w3·x) and no
// biases. In TransformerLens's names: W_gate = w1ᵀ, W_in = w3ᵀ, W_out =
// w2ᵀ, W_Q[h] = wq's rows h·d_head … as [d_model, d_head], W_O = woᵀ,
// ln1.w = rms_att, ln2.w = rms_ffn, ln_final.w = rms_final, W_E =
// token_embedding, W_U = wclsᵀ unless tied. n_ctx is seq_len. W_pos and
// every bias are zero.
//
// # Strictness
//
// Load checks the header (every dimension positive and within limits,
// dim a multiple of n_heads, n_heads of n_kv_heads, an even head size, the
// tie byte 0 or 1, a group size dividing every quantized tensor) and that
// the file's length is exactly what the header implies, before it
// allocates the model; errors name the problem. Load reads the file in
// chunks of 64Ki values, decoded straight into the model's parameters, so
// it allocates little beyond the model (about 1.1× its float32 weights).
package llama2c
