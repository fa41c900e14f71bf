// Package gan holds Workbench's generative adversarial networks — a DCGAN
// for small images and MLP GANs for 2-D Gaussian mixtures — with explicit
// forward and backward passes over the layers of package nn, the hook API
// of package hooks on every layer, a two-player training loop on
// train.Run, and the measurements that make GAN experiments mean
// something: FID and an Inception-style score computed on our own
// classifier beside real and degraded controls, the VEEGAN mode metrics,
// the vanishing-gradient experiment, latent walks and arithmetic, and unit
// ablation.
//
// # Architectures
//
//	dcgan  G: z [z_dim] → linear → BN → ReLU → [GWidth, H/4, W/4]
//	          → ConvT 4×4/2 → BN → ReLU → [GWidth/2, H/2, W/2]
//	          → ConvT 4×4/2 → tanh → [C, H, W]
//	       D: [C, H, W] → Conv 4×4/2 → LeakyReLU(0.2) → [DWidth, H/2, W/2]
//	          → Conv 4×4/2 → BN → LeakyReLU(0.2) → [2·DWidth, H/4, W/4]
//	          → linear → logit [1]
//	mlp    G: z → (linear → ReLU) × GLayers → linear → [data_dim]
//	       D: x → (linear → LeakyReLU) × DLayers → linear → logit [1]
//
// This is DCGAN (Radford, Metz & Chintala 2016) for 28×28 images: strided
// convolutions instead of pooling, BatchNorm everywhere but the generator's
// output and the discriminator's input, ReLU in G, LeakyReLU in D, tanh
// output, N(0, 0.02²) weights, Adam at lr 2e-4 and β1 0.5. Layers that feed
// a BatchNorm have no bias.
//
// # Hook points
//
// Shapes are [batch, channel, height, width] for feature maps and
// [batch, units] for vectors.
//
//	G.hook_z                          the latent vectors [batch, z_dim]
//	G.blocks.{l}.hook_pre             a block's linear or (transposed) convolution output
//	                                  (blocks with BatchNorm or an activation only)
//	G.blocks.{l}.bn.hook_normalized   BatchNorm's x̂, before γ and β
//	G.blocks.{l}.hook_out             the block's output after its activation;
//	                                  the last block's is the samples (images in (−1, 1))
//	D.hook_input                      the samples the discriminator sees (editable;
//	                                  backward gives ∂loss/∂x)
//	D.blocks.{l}.hook_pre, .bn.hook_normalized, .hook_out   as in G
//	D.hook_logit                      the logit [batch, 1]: D(x) = σ(logit), or the critic's value
//
// Hook sets are passed per call (Model.Generate, Model.Discriminate,
// Workspace.Forward), never registered on a model. A forward hook may edit
// its activation in place or return a replacement; later layers and the
// backward pass use the edited value, and the backward pass treats the edit
// as the identity. A backward hook sees, and may edit, the gradient with
// respect to its activation. Ablations use package cnn's edit primitive
// out = x·(1 − A) + R·A (cnn.NewEdit).
//
// # Training
//
// Train runs NCritic discriminator updates and one generator update per
// step with the minimax, non-saturating or WGAN (weight clipping) loss,
// both networks in training mode. A batch is cut into fixed shards run by
// a pool of worker goroutines, one workspace each, with gradients summed in
// shard order: results are bit-identical for any number of workers, and
// a training step allocates nothing. Checkpoints, metrics.jsonl, exact
// resume and Ctrl-C handling are train.Run's.
//
// # Measurements
//
// A Judge (ClassifierJudge wraps a trained cnn classifier) stands where the
// Inception network stands in FID and IS. An Evaluator scores sets of
// generated images against real test images and always reports controls:
// a second real set (the floor), the same set with pixel noise, blurred,
// and one class only. FrechetDistance works in float64 with gonum, the
// matrix square root through the eigen-decomposition of the symmetric
// product Σa^½ Σb Σa^½. EvaluateMixture computes the VEEGAN metrics on
// 2-D samples; VanishingGradients measures the generator's gradient under
// log(1 − D) and −log D as a discriminator trained against a frozen
// generator improves. Dissect measures each generator unit's IoU with
// concepts labelled on its samples — the judge's classes and regions
// (sleeves, soles, background) derived from the pixels (Bau et al. 2019).
// Walk, ClassMeans, Arithmetic, RankUnits, AttributeUnits, Dissect,
// AblateUnits and UnitAblation return images and numbers, never pictures.
//
// # Checkpoints
//
// Save writes safetensors with PyTorch-style state-dict names prefixed by
// the network (G.blocks.0.fc.weight [out, in], G.blocks.1.conv.weight
// [in, out, 4, 4] for a transposed convolution, D.blocks.0.conv.weight
// [out, in, 4, 4], G.blocks.1.bn.running_mean, D.head.weight, ...) and the
// config as JSON under "gan_config"; Load reads them back, and also reads
// training checkpoints (ignoring their optimizer state).
//
// # Concurrency and errors
//
// A Model is safe for concurrent use by many workspaces as long as its
// parameters and statistics are not written meanwhile; a Workspace belongs
// to one goroutine at a time. Configs, options, tensors and hook names from
// outside the process are validated and give errors prefixed "gan: ";
// programmer errors inside the package panic with a tensor.ShapeError.
package gan
