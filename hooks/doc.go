// Package hooks names the activations of Workbench's models and lets a caller
// read, edit, replace, cache or differentiate them, one call at a time.
//
// # Hook points
//
// A hook point is a stable Name in TransformerLens v2 style. Transformer
// points and their shapes:
//
//	hook_embed, hook_pos_embed                                   [batch, pos, d_model]
//	blocks.{l}.hook_resid_pre / hook_resid_mid / hook_resid_post [batch, pos, d_model]
//	blocks.{l}.ln1.hook_scale [batch, pos, 1]  ln1.hook_normalized [batch, pos, d_model]
//	blocks.{l}.ln2.hook_scale / hook_normalized                  (as ln1)
//	blocks.{l}.attn.hook_q / hook_k / hook_v / hook_z            [batch, pos, head, d_head]
//	blocks.{l}.attn.hook_attn_scores / hook_pattern              [batch, head, query_pos, key_pos]
//	blocks.{l}.attn.hook_result                                  [batch, pos, head, d_model]
//	blocks.{l}.hook_attn_out / hook_mlp_out                      [batch, pos, d_model]
//	blocks.{l}.mlp.hook_pre / hook_post                          [batch, pos, d_mlp]
//	ln_final.hook_scale [batch, pos, 1], ln_final.hook_normalized [batch, pos, d_model]
//	unembed.hook_out                                             [batch, pos, d_vocab_out]
//
// hook_attn_scores is taken after scaling by 1/√d_head and causal masking:
// masked entries are −Inf. hook_result is each head's output z_h·W_O[h]
// without b_O. The scale points hold TransformerLens's scale,
// sqrt(mean((x−mean)²) + eps), and hook_normalized is the LayerNorm output
// after the gain and bias.
//
// CNN and GAN models use the same mechanism with their own names
// (conv1.hook_out, layer2.0.hook_shortcut, ...), shapes
// [batch, channel, height, width].
//
// # Hook sets
//
// A Set is a value passed to each call (model.Run(ctx, tokens, set)); nothing
// is registered on a model, so nothing leaks between experiments, and one
// model may run concurrently with different sets. A forward hook sees the
// activation and may edit it in place or return a replacement of the same
// shape; later layers, and the backward pass, use the edited value. A
// backward hook sees, and may edit, the gradient of the loss with respect to
// that activation. Hooks match by exact name or by predicate and run in the
// order they were added. A nil *Set means no hooks and costs nothing.
//
// A Set is safe for concurrent use by several runs as long as its hook
// functions are; a Cache is not (give each concurrent run its own).
//
// # Caches
//
// A Cache is a hook set that copies what it matches, optionally including
// gradients under name + "_grad". It can be sliced by position, stacked
// across layers, and saved to and loaded from safetensors.
package hooks
