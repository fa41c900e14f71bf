// Package transformer is a decoder-only transformer in the shape of
// TransformerLens's HookedTransformer: a Config of architecture fields with
// TransformerLens's names, a Model holding the parameters, runs that take
// hooks per call, and an explicit forward and backward pass for training.
//
// # A first program
//
// Build a model from a Config (New) or read one from a safetensors
// checkpoint (Load, FromCheckpoint), or from another format through a
// converter such as transformer/hf, which fills the parameters with
// FromParams. Config JSON (ParseConfig) is strict: a key that is not a
// Config field is refused by name, unless it is a TransformerLens field at
// a value that changes nothing (use_attn_scale true, use_qk_norm false, …).
// Run it on token sequences with Run, passing a hook set, for instance the
// one hooks.Capture returns, to read or edit activations by name; read the
// cached tensors by hook name. The Example shows the whole path on a
// two-layer model.
//
// # Shapes
//
// Tokens enter as [batch][pos] ids in [0, d_vocab) ([][]int, the token
// type of every Workbench API); sequences in a batch have equal length, at
// most n_ctx. CheckTokens validates them and flattens them to the
// [batch·pos] int32 layout of Workspace.Forward and Parallel.Step, the
// training hot path, which reads data.Batch's tokens directly
// (data.Batch.Rows converts a batch the other way). Every activation has the shape of its
// hook point (see package hooks):
//
//	residual stream, attn_out, mlp_out    [batch, pos, d_model]
//	q, k, v, z                            [batch, pos, head, d_head]
//	attn_scores, pattern                  [batch, head, query_pos, key_pos]
//	mlp pre / post                        [batch, pos, d_mlp]
//	logits                                [batch, pos, d_vocab_out]
//
// Parameters are stored as one float32 allocation (Params) and read and
// written as TransformerLens state dicts (embed.W_E [d_vocab, d_model],
// blocks.{l}.attn.W_Q [n_heads, d_model, d_head], W_O [n_heads, d_head,
// d_model], unembed.W_U [d_model, d_vocab_out], ...). Row vectors multiply
// on the left: q = x·W_Q + b_Q.
//
// # Llama-family architectures
//
// The forward pass (with every hook) implements rotary position embeddings
// (positional_embedding_type "rotary", rotary_dim, rotary_base; rotate-half
// pairing as Hugging Face and GPT-NeoX lay weights out, or adjacent pairs
// with rotary_adjacent_pairs as Meta's code and llama2.c; hook_rot_q and
// hook_rot_k hold q and k after the rotation; W_pos is kept, zero and
// unused), grouped-query attention (n_key_value_heads: hook_k and hook_v
// have that many heads, patterns one per query head, and query head h uses
// the K/V head h / (n_heads/n_key_value_heads) — Head returns that group's
// W_K and W_V, so QK circuits of heads in one group share their key side),
// gated MLPs (gated_mlp: hook_pre is x·W_gate, hook_pre_linear x·W_in, post
// act(pre)·pre_linear + b_in, as TransformerLens), act_fn "silu" and
// parallel attention and MLP (parallel_attn_mlp: no hook_resid_mid). The
// backward pass implements them too: a K/V head's gradient is the sum over
// its query group, a rotation's is the inverse rotation (backward hooks on
// hook_rot_q and hook_rot_k see the gradient before it), so training,
// Parallel and attribution patching run on these models.
//
// # Generation
//
// Model.Generate continues prompts of any lengths with a key-value cache:
// one full forward pass per prompt (prefill), then one decoding step per
// new token that reads every weight once and attends to the cached keys
// and values. Each sequence keeps its own positions, so a batch gives every
// prompt exactly the tokens it gets alone. Greedy decoding, temperature,
// top-k, top-p and end-of-sequence ids are GenerateOptions; sampling is
// seeded per prompt.
//
// # Attention variants
//
// The forward pass also implements attn_scale (scores are q·k / attn_scale,
// √d_head by default; use_attn_scale false reads as 1, as GPT-Neo),
// scale_attn_by_inverse_layer_idx (block l's divisor times l+1) and local
// attention (use_local_attn with attn_types and window_size: in a block
// whose attn_types entry is "local", query i reads keys
// i − window_size < j ≤ i; GPT-Neo alternates global and local blocks,
// Mistral's sliding window is local on every block). hook_attn_scores
// holds −Inf outside the window and hook_pattern exactly 0. Blocks with any
// of these compute scores, softmax and mix step by step instead of the
// fused causal kernel. Biases on q, k and v without an output bias
// (Qwen2) need nothing special: b_O is zero. The backward pass refuses
// these variants by name, as above.
//
// # Invariants
//
// Attention is causal: the output at position p depends only on tokens at
// positions ≤ p, and every pattern row sums to 1 with zeros above the
// diagonal. A hook that returns nil leaves a run bit-identical to a run
// without it; a forward hook's edit is what later layers and Backward see.
// Weight processing (FoldLayerNorm, CenterWritingWeights, CenterUnembed,
// FoldValueBiases) returns a new model and leaves log-probabilities
// unchanged up to float32 rounding; nothing is processed silently on load.
// The same Config and seed give bit-identical weights, and Parallel gives
// bit-identical gradients whatever its worker count.
//
// # Errors and panics
//
// Everything a user can type (configs, checkpoint files, token ids, hook
// names) is validated and returned as an error prefixed "transformer:".
// Methods whose arguments come from Workbench's own code (Head with a layer
// out of range, a Workspace fed the wrong number of tokens by a caller that
// skipped CheckTokens) document the panics they may raise.
//
// # Concurrency
//
// A Model holds no hooks and no activations, so one Model may serve many
// concurrent Run, Loss and Gradients calls as long as nobody writes its
// parameters meanwhile. A Workspace (the activations of one forward and
// backward pass, laid out once) and a Parallel (a data-parallel training
// step) belong to one goroutine at a time; Close a Parallel to stop its
// helper goroutines.
package transformer
