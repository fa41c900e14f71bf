// Package nn holds Workbench's layers as explicit Forward/Backward function
// pairs, in the style of llm.c: no autograd graph, no hidden state.
//
// # Conventions
//
// Every layer is a pair of plain functions over flat row-major float32 slices
// with explicit dimensions:
//
//		XxxForward(out, in..., params..., dims...)
//		XxxBackward(dIn..., dParams..., dOut, saved..., params..., dims...)
//
//	  - Row vectors multiply on the right, as in TransformerLens: a linear layer
//	    computes y = x·W + b with W stored [in, out].
//	  - Forward writes (overwrites) its outputs, including any statistics that
//	    Backward needs (for example LayerNorm's per-row scale); the caller owns
//	    all memory, normally views of one arena laid out once.
//	  - Backward ACCUMULATES (+=) into every gradient it is given, parameter
//	    gradients and input gradients alike, so that residual branches and
//	    shared parameters need no extra buffers. Callers zero gradients once per
//	    step. A nil input-gradient slice means "not needed" and is skipped.
//	  - Nothing allocates after setup: a forward+backward step allocates zero
//	    bytes (tests prove it with testing.AllocsPerRun).
//	  - Functions are safe for concurrent use on distinct output buffers;
//	    parameters may be shared read-only between goroutines.
//
// Shape glossary: rows = batch·pos; d = d_model; H = n_heads; dh = d_head;
// V = d_vocab; T = positions. Attention tensors: q, k, v, z are
// [batch, pos, head, d_head]; scores and pattern are [batch, head, dest, src].
//
// Programmer errors (slices too short for the dimensions given) panic with a
// tensor.ShapeError; functions here are never reached by unvalidated user
// input.
//
// Every Backward is checked element-wise against float64 central differences
// (gonum diff/fd) through GradCheck.//
// # Parameters
//
// Params is the one named-parameter arena of every model family: each
// tensor a view into one allocation, with its state-dict name, shape,
// weight-decay flag, initialisation and, where memory is laid out for speed
// rather than as the state dict, a Layout. StateDict and LoadStateDict are
// the one state-dict I/O (safetensors through package checkpoint); models
// add only their names, their config metadata and the entries they ignore.
package nn
