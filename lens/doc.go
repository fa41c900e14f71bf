// Package lens reads what a transformer's residual stream already predicts
// part-way through the model, and splits the residual into the components
// that wrote it.
//
// # Lenses
//
// A lens decodes the residual stream at each point of Points: "embed" (the
// token plus positional embedding entering block 0), then per layer
// blocks.{l}.hook_resid_mid (models with MLPs, not parallel ones) and
// blocks.{l}.hook_resid_post.
//
//   - Logit runs the logit lens (nostalgebraist 2020): each residual goes
//     through the model's own ln_final and unembedding.
//   - Tuned is the tuned lens (Belrose et al. 2023, arXiv:2303.08112): an
//     affine translator per point, initialised to the identity, applied
//     before the same decoder and trained by Train to minimise
//     KL(final ‖ lens) on the model's own data with SGD and Nesterov
//     momentum.
//
// Both report the same Stats per point: top-k tokens per position, the
// next-token loss and accuracy over positions 0..T−2 of every sequence, the
// KL divergence from the model's final distribution and the entropy, both
// averaged over every position.
//
// ln_final is recomputed on each decoded residual: its mean and scale are
// those of the residual being decoded. Reusing the final layer's cached
// scale instead (as TransformerLens's accumulated_resid(apply_ln=True) did,
// TransformerLens issue #1076) decodes an earlier residual with a later
// residual's norm, which mis-scales its logits and so its probabilities,
// loss and KL. The decoder here is the model's own final layers called on
// the residual, so at the final residual the logit lens gives the model's
// logits bit for bit.
//
// # Decomposition and direct logit attribution
//
// Decompose splits the residual at a point into embed, pos_embed, each head's
// output L{l}H{h}, each MLP's output {l}_mlp_out and the summed output biases
// "bias"; the components sum to the residual up to float32 rounding.
// ApplyLN passes a stack of components through ln_final linearised at the
// cached final scale (TransformerLens's apply_ln_to_stack), the standard
// approximation that makes ln_final additive over components; it is exact
// for the final residual and an approximation elsewhere. Decomposition.DLA
// projects the linearised components onto an answer's unembedding direction
// (or the difference of two), so that the attributions plus a constant sum
// to the logit (difference).
//
// # Shapes
//
// Residuals and components are [batch, pos, d_model]; stacks add a leading
// component axis; logits are [batch, pos, d_vocab_out]; translator weights
// are [d_model, d_model], multiplying row vectors on the right.
//
// # Concurrency
//
// The functions here only read the model; several may run on one model at
// once as long as nobody writes its parameters. A Trainer belongs to one
// goroutine and writes its Tuned lens.
package lens
