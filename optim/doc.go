// Package optim holds Workbench's optimizers — SGD (momentum, dampening,
// Nesterov), Adam and AdamW — together with weight-decay masks, global
// gradient-norm clipping and learning-rate schedules.
//
// # Shapes
//
// Optimizers see parameters as flat float32 slices: a Param is a name, the
// parameter's data (any shape, row-major, flattened) and a gradient slice of
// the same length, normally views of the model's parameter and gradient
// arenas. The optimizer updates Data in place from Grad and never writes Grad
// (ClipGradNorm and ZeroGrad do, on request).
//
// # Update rules
//
// The updates are PyTorch's published ones (the pseudo-code in the
// torch.optim.SGD, Adam and AdamW documentation, amsgrad and maximize off),
// evaluated in float32 in the same order as PyTorch's single-tensor code path,
// with per-step scalars (bias corrections, step size, 1−lr·λ) computed in
// float64 and rounded once to float32 as PyTorch does. Results therefore agree
// with PyTorch to float32 rounding; they are not bit-identical to it (PyTorch
// itself differs bit-wise between its scalar, vectorized and foreach paths).
//
// Weight decay applies only to parameters whose Decay field is true. That is
// the equivalent of PyTorch's two parameter groups (weight_decay=λ and
// weight_decay=0) in nanoGPT's configure_optimizers. DecayByName gives the
// default mask for TransformerLens parameter names.
//
// # Memory and state
//
// An optimizer allocates its state (momentum buffers, first and second
// moments) once, at construction, as one []float32 with a named view per
// parameter; Step allocates nothing. State exports those views with stable
// names ("sgd.momentum/<param>", "adam.m/<param>", "adam.v/<param>") and,
// with Steps, is everything needed to resume training bit-identically:
// LoadState into a freshly built optimizer over the same parameters, then
// continue. LoadState checks every name and length and returns an error
// wrapping ErrState on any mismatch, leaving the optimizer untouched.
//
// # Schedules
//
// A Schedule is a pure function from the 0-based index of the step about to
// be taken (Optimizer.Steps() before the call to Step) to the absolute
// learning rate for that step; the base rate is bound when the schedule is
// built. Constant, LinearWarmup and Cosine (warmup then cosine decay, as in
// llm.c and nanoGPT) are provided.
//
// # Concurrency
//
// An optimizer is not safe for concurrent use, and Step must not run while
// any goroutine reads or writes the parameters or gradients it updates.
// Distinct optimizers over disjoint parameters may step concurrently.
// Everything here is deterministic: the same parameters, gradients and
// learning rates give bit-identical results on the same machine.
//
// # References
//
//   - D. P. Kingma and J. Ba, "Adam: A Method for Stochastic Optimization",
//     ICLR 2015 (Adam; bias correction).
//   - I. Loshchilov and F. Hutter, "Decoupled Weight Decay Regularization",
//     ICLR 2019 (AdamW).
//   - I. Sutskever, J. Martens, G. Dahl and G. Hinton, "On the importance of
//     initialization and momentum in deep learning", ICML 2013 (momentum and
//     Nesterov momentum in the form PyTorch's SGD uses).
//   - PyTorch documentation: torch.optim.SGD, torch.optim.Adam,
//     torch.optim.AdamW, torch.nn.utils.clip_grad_norm_.
package optim
