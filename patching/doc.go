// Package patching finds which activations of a transformer are causally
// responsible for a behaviour: activation patching, attribution patching,
// path patching and ablations, in the vocabulary of TransformerLens
// (patching.py) and of Heimersheim & Nanda, "How to use and interpret
// activation patching" (2024).
//
// # Experiments
//
// An Experiment holds a clean and a corrupted batch of token sequences of
// the same shape, [batch][pos], run through one transformer.Model, and a
// Metric of the logits [batch, pos, d_vocab_out]: LogitDiff (answer − wrong
// logit at one position, averaged over the batch), Prob (the answer's
// probability) or Loss (cross-entropy against targets). Patches go clean →
// corrupted ("denoising"): a patch writes the clean run's activation at a
// Site into the corrupted run and reports the metric. Normalize maps metric
// values so that the clean run scores 1 and the corrupted run 0.
//
// Sites are named by Kind, layer, head and position; the kinds are hook
// points with these shapes:
//
//	resid_pre, resid_post, attn_out, mlp_out   [batch, pos, d_model]
//	head_out (hook_z), q, k, v                 [batch, pos, head, d_head]
//	pattern                                    [batch, head, query_pos, key_pos]
//
// # Sweeps
//
// Experiment.Sweep patches every site of one kind in turn — by layer (and
// head), and by position with Options.ByPos — and returns a Grid: values on
// labelled axes ("L0", "L1H2", "pos 3"). Patches run on a bounded pool of
// goroutines (two by default, one per core of the target machine), stop at
// the first error or when the context is cancelled, and start from the
// cached corrupted residual stream entering the patched layer instead of
// re-running the layers before it. Results do not depend on the number of
// workers.
//
// Experiment.Attribute estimates the same grid by attribution patching, the
// gradient of the metric times the clean − corrupted activation difference,
// from one forward and one backward pass; Compare reports how well it agrees
// with the exact sweep (Pearson correlation, top-k overlap).
//
// Experiment.PathPatch patches the path from one head's output to one input
// (q, k or v) of a head in a later layer; its documentation states exactly
// what is frozen.
//
// # Ablations
//
// ZeroAblation, MeanAblation and ResampleAblation return hook sets that
// replace sites (heads, MLP layers, positions of any activation) by zeros,
// their mean over a reference batch, or their value on resampled reference
// sequences, to pass to any run of the model. A hook cannot return an error
// of its own: a run whose activations do not match the ablation (a site's
// position beyond the run's length; a mean or resample ablation run on a
// different number of positions than its reference) fails with the hooks
// package's shape error naming the hook point.
//
// # Concurrency and errors
//
// An Experiment is immutable after New and safe for concurrent use, as are
// the hook sets of the ablations. Input from outside the process (token
// ids, answer ids, positions, kinds, sites) is checked and reported as an
// error; the package panics only on its own programming errors, as
// documented.
package patching
