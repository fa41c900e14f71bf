// Package cnn holds Workbench's convolutional networks for images — a small
// classifier, residual networks with basic or bottleneck blocks, and plain
// networks of the same depth — as explicit forward and backward passes over
// the layers of package nn, with the hook API of package hooks threaded
// through every layer.
//
// # Architectures
//
//	cnn     per entry of Channels: convN (3×3, pad 1) – bnN – reluN – poolN (2×2 max),
//	        then dropout1 and the linear head fc. Classifier() is
//	        conv16–BN–ReLU–pool–conv32–BN–ReLU–pool–FC10 on 1×28×28.
//	resnet  conv1 (3×3) – bn1 – relu1, stages layerS.I of residual blocks
//	        (width Width·2^(S−1), stride 2 at the start of every stage but the
//	        first), avgpool (global) and fc (He et al. 2016, §4.2).
//	plain   resnet without shortcuts.
//
// A basic block computes F(x) = bn2(conv2(relu1(bn1(conv1(x))))); a
// bottleneck block F(x) = bn3(conv3(relu2(bn2(conv2(relu1(bn1(conv1(x))))))))
// with 1×1, 3×3, 1×1 kernels and 4× wider output. The shortcut is the
// identity when shapes agree and otherwise a strided 1×1 convolution with
// BatchNorm (downsample.0, downsample.1). The block's output is
// ReLU(F(x) + shortcut(x)), or ReLU(F(x)) in a plain network. Convolutions
// have no bias (each feeds a BatchNorm, which makes it redundant).
//
// # Hook points
//
// Shapes are [batch, channel, height, width]; the logits are [batch, class].
//
//	hook_input                        the images (editable; backward gives saliency)
//	conv1.hook_out                    a convolution's output
//	bn1.hook_normalized               BatchNorm's x̂, before γ and β
//	bn1.hook_out                      BatchNorm's output γ·x̂ + β
//	relu1.hook_out, pool1.hook_out, avgpool.hook_out
//	dropout1.hook_mask                the 0/1 dropout mask (all 1 in evaluation)
//	dropout1.hook_out
//	layer2.0.conv1.hook_out ...       the block's sub-layers, as above
//	layer2.0.downsample.0.hook_out    the projection shortcut's sub-layers
//	layer2.0.hook_branch              F(x)
//	layer2.0.hook_shortcut            shortcut(x): the projection, or x itself
//	layer2.0.hook_resid_post          F(x) + shortcut(x) (residual networks)
//	layer2.0.hook_out                 the block's output after the ReLU
//	fc.hook_out                       the logits, [batch, n_classes]
//
// Hook sets are passed per call, as for the transformer: a forward hook may
// edit its activation in place or return a replacement, and later layers and
// the backward pass use the edited value (the backward pass treats an edit as
// the identity); a backward hook sees, and may edit, the gradient with respect
// to its activation. Edit and NewEdit build the one edit primitive,
// out = x·(1 − A) + R·A, that expresses zero- and mean-ablation, unit
// insertion and activation patching.
//
// # Training and evaluation
//
// A Pass selects training (batch statistics in BatchNorm, active dropout
// drawn from a caller's RNG) or evaluation (running statistics, no dropout).
// A Workspace holds one pass's activations for a fixed batch size, laid out
// once; forward and backward allocate nothing. Backward accumulates into a
// gradient Params laid out like the model's. The running statistics are
// updated by Workspace.UpdateRunningStats or, in data-parallel training, by
// Parallel.Step, from the pooled statistics of the whole batch (momentum 0.1,
// unbiased variance, as in PyTorch). Parallel splits a batch into fixed
// shards run on a persistent worker pool; results are bit-identical for any
// worker count.
//
// # Experiments
//
// TrainDepth and CompareDepth train plain and residual networks of equal
// depth side by side and measure per-layer activation and gradient standard
// deviations at initialisation and after training (He et al. 2016, §4.2).
// Saliency and IntegratedGradients attribute a class logit to the input
// pixels through a backward hook on hook_input; MaximizeUnit synthesises an
// input that excites one unit (Adam on the pixels or on a 1/f-scaled cosine
// spectrum, with random translations, scalings and rotations, normalised
// gradients and optional total-variation and L2 penalties; MaximizeUnits
// does a layer's units as one batch); BatchNormStats compares every BatchNorm layer's
// batch statistics with its running ones. All of them take a hook set, so
// they run under ablations and patches too.
//
// # Checkpoints
//
// Save writes safetensors with PyTorch state-dict names and shapes
// (conv1.weight [out, in, kh, kw], bn1.weight, bn1.bias, bn1.running_mean,
// bn1.running_var, fc.weight [out, in], fc.bias, layer1.0.conv1.weight, ...)
// and the config as JSON in the metadata; Load reads them back.
//
// # Concurrency and errors
//
// A Model is safe for concurrent use by many workspaces as long as its
// parameters and statistics are not written meanwhile. Configs, images,
// labels and hook names from outside the process are validated and give
// errors prefixed "cnn: "; programmer errors inside the package panic with a
// tensor.ShapeError.
package cnn
