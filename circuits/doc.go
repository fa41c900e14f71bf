// Package circuits is the mathematics of "A Mathematical Framework for
// Transformer Circuits" (Elhage et al. 2021) for reading a transformer's
// weights: factored matrices, QK and OV circuits, composition scores with a
// random baseline, and OV eigenvalue and copying statistics. It computes in
// float64 on gonum and follows TransformerLens's conventions
// (FactoredMatrix, all_composition_scores), so that TransformerLens code
// ports by changing syntax, not meaning. Its functions take weight
// matrices, not a model, and return numbers, not pictures.
//
// # Conventions
//
// Row vectors multiply on the left, as in TransformerLens and the
// transformer package: a residual-stream vector x [d_model] gives the
// query x·W_Q, the key x·W_K, the value x·W_V, and a head's output
// (pattern-weighted values)·W_O. The matrices, per head:
//
//	W_Q, W_K, W_V  [d_model, d_head]      HeadWeights.Q, .K, .V
//	W_O            [d_head, d_model]      HeadWeights.O
//	W_E            [d_vocab, d_model]     W_U  [d_model, d_vocab_out]
//
// The circuits, ours beside the paper's (which uses column vectors and
// stores W_Q, W_K, W_V as [d_head, d_model]):
//
//	ours                                 paper
//	QK = W_Q·W_Kᵀ   [d_model, d_model]   W_QK = W_Qᵀ·W_K  (the same matrix)
//	score of dest x, source y: x·QK·yᵀ   x_destᵀ·W_QK·x_src
//	OV = W_V·W_O    [d_model, d_model]   W_OV = W_O·W_V  (= OVᵀ)
//	output of source y: y·OV             W_OV·y
//	full OV = W_E·OV·W_U                 W_U·W_OV·W_E  (transposed)
//	        [d_vocab, d_vocab_out]       [d_vocab_out, d_vocab]
//
// Row t of our full OV circuit is what attending to token t adds to the
// logits. Every circuit is a FactoredMatrix through d_head: it is never
// materialised at d_model², let alone vocabulary², scale unless asked
// (FactoredMatrix.Dense).
//
// # Composition scores
//
// For a writer head 1 in an earlier layer and a reader head 2, with
// score(A, B) = ‖A·B‖_F / (‖A‖_F·‖B‖_F):
//
//	      ours (TransformerLens)   paper              head 1's output feeds head 2's
//	Q     score(OV₁, QK₂)          ‖W_QK²ᵀ·W_OV¹‖/…    queries: x·OV₁ in place of x
//	K     score(OV₁, QK₂ᵀ)         ‖W_QK²·W_OV¹‖/…     keys: y·OV₁ in place of y
//	V     score(OV₁, OV₂)          ‖W_OV²·W_OV¹‖/…     values
//
// CompositionScores returns all three as [l1][h1][l2][h2] (writer, reader),
// zero unless l1 < l2, exactly as TransformerLens's
// model.all_composition_scores(mode) except that a zero head scores 0, not
// NaN. A score lies in [0, 1] and random heads score about 1/√d_model, so
// scores mean little without a baseline: RandomBaseline gives the analytic
// and the sampled one for the model's shapes, and Composition.Relative
// expresses scores as multiples of it.
//
// # Algorithms and cost
//
// FactoredMatrix works from its factors: Norm through mdim×mdim Gram
// matrices, SVD through thin QRs of A and Bᵀ and the SVD of the small
// middle matrix, Eigenvalues through the smaller of B·A and A·B, Row and
// RowTopK in O(mdim·rdim). CompositionScores reduces every score to Gram
// matrices of tall [d_model, d_head] factors and contracts them blockwise
// (see composition_fast.go); all 3×9,504 scores of a 12-layer, 12-head,
// d_model 768 model take about a CPU-second. Its inner loops are float64
// micro-kernels in AVX-512 assembly, chosen at run time, with a pure-Go
// fallback that the purego build tag forces; the two are tested against
// each other and the fast path against the dense formula.
//
// # Errors, panics and concurrency
//
// Shapes that come from outside — factors, weights, matrices to multiply —
// are checked and reported as errors wrapping gonum's mat.ErrShape,
// mat.ErrSquare or mat.ErrZeroLength (test with errors.Is); failed LAPACK
// decompositions wrap ErrNoConvergence. Indices out of range (Row, At,
// Corner, RowTopK) panic with gonum's typed mat.Error values, as mat.Dense.At
// does. Long computations take a context and run on runtime.GOMAXPROCS(0)
// worker goroutines that have all exited when they return; their results do
// not depend on the number of workers. A FactoredMatrix is immutable and
// safe for concurrent use; it aliases, and does not copy, the factors it is
// built from. The package has no mutable package-level state.
package circuits
