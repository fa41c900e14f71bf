// Package data provides Workbench's training and evaluation data: synthetic
// sequence tasks for toy transformers, an IDX reader with a Fashion-MNIST
// loader for the CNNs and GANs, and 2-D Gaussian mixtures for GAN
// mode-collapse experiments.
//
// # Sequence tasks
//
// A task fills a Batch, laid out [batch, pos] row-major: Tokens (input),
// Targets (what the output at each position should predict), Weights (the
// loss mask, 1 on scored positions and 0 elsewhere) and Repeat (a per-sequence
// period). Unscored targets are 0, a valid token id. With T = SeqLen and
// off = 1 when a BOS token (BOSToken) is at position 0, else 0:
//
//	Induction.Fill   [BOS] filler(2(L−Ls)) P(Ls) P(Ls), Ls ~ U[MinRepeat, L]
//	                 Targets[i] = Tokens[i+1]; Weights[i] = 1 for T−Ls ≤ i ≤ T−2
//	                 Repeat = Ls; induction attention goes from i to i−Ls+1
//	Induction.FillFixed  the same with Ls = L (held-out evaluation; EvalSet)
//	Induction.FillProbe  a block of period p = L/2+1 tiled over 2L positions
//	                 Targets[i] = Tokens[i+1]; Weights[i] = 1 for off+p ≤ i ≤ T−2
//	                 Repeat = p (generalisation probe; ProbeSet)
//	PrevToken.Fill   Targets[i] = Tokens[i−1]; Weights[i] = 1 for off+1 ≤ i ≤ T−1
//	Copy.Fill        Targets[i] = Tokens[i];   Weights[i] = 1 for off ≤ i ≤ T−1
//
// Tokens are int32 in a Batch, flat [batch·pos], the layout the training
// hot path reads. The API's token type, what transformer.Model.Run, the
// analysis packages and the JSON routes take, is [][]int ([batch][pos]);
// Batch.Rows converts, and transformer.Model.CheckTokens converts back
// (validating ids). Nothing else converts.
//
// Generation is seeded: every Fill draws only from the *rand.Rand
// (math/rand/v2) passed in, so a seed fixes the data, and EvalSet and
// ProbeSet take a seed. Fill writes into a caller-owned Batch allocated once
// by NewBatch and never allocates.
//
// # Images
//
// ReadIDX reads MNIST-format IDX files (plain or gzip) with the header
// validated against the file before anything is allocated. FashionMNIST
// loads the data set from Debian's dataset-fashion-mnist package
// (FashionMNISTDir) or a given directory into ImageSets: images [N, H, W] as
// float32 in [0, 1], labels [N].
//
// # Mixtures
//
// Mixture is a 2-D Gaussian mixture with known centres and σ; Ring8 and
// Grid25 are the standard 8-mode ring and 25-mode grid. Sample writes
// [n, 2] points.
//
// # Errors and concurrency
//
// Task configurations are validated by Validate, and file contents by the
// readers, with errors prefixed "data: ". Fill and Sample are reached only
// with validated configurations and panic (with the Validate error or a
// ShapeError) on programmer errors. There is no package-level mutable
// state; task and mixture values are safe for concurrent use, while a Batch
// or *rand.Rand must not be shared between goroutines without locking.
//
// This package imports only the standard library.
package data
