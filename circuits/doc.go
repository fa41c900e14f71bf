// Package circuits is the mathematics of "A Mathematical Framework for
// Transformer Circuits" (Elhage et al. 2021) and "In-context Learning and
// Induction Heads" (Olsson et al. 2022) for reading a transformer: factored
// matrices, QK and OV circuits up to vocabulary scale, composition scores
// with a random baseline, OV eigenvalue and copying statistics, and head
// detectors run on token sequences. It computes in float64 on gonum and
// follows TransformerLens's conventions (FactoredMatrix,
// all_composition_scores, detect_head), so that TransformerLens code ports
// by changing syntax, not meaning. It returns numbers, not pictures.
//
// Two layers: functions of weight matrices (FactoredMatrix,
// CompositionScores of transformer.HeadWeights, FullOV, EigenPositivity,
// Top1Diagonal, RandomBaseline), and functions of a transformer.Model (WeightsOf
// and the Weights circuits, RunPatterns and the detectors, CopyingScores,
// Analyze and its Report, which `workbench analyze` prints).
//
// # Conventions
//
// Row vectors multiply on the left, as in TransformerLens and the
// transformer package: a residual-stream vector x [d_model] gives the
// query x·W_Q, the key x·W_K, the value x·W_V, and a head's output
// (pattern-weighted values)·W_O. The matrices, per head:
//
//	W_Q, W_K, W_V  [d_model, d_head]      transformer.HeadWeights.WQ, .WK, .WV
//	W_O            [d_head, d_model]      transformer.HeadWeights.WO
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
// and at vocabulary and position scale (Weights methods), with W_pos
// [n_ctx, d_model]:
//
//	ours                                      paper (Elhage et al. 2021)
//	FullQK  W_E·QK·W_Eᵀ     [d_vocab, d_vocab]  W_Eᵀ·W_QK·W_E
//	PosQK   W_pos·QK·W_posᵀ [n_ctx, n_ctx]      (positional analogue)
//	FullOV  W_E·OV·W_U      [d_vocab, d_vocab_out]  W_U·W_OV·W_E, transposed
//	KComposition (writer 1, reader 2, l₁ < l₂):
//	        W_E·QK₂·OV₁ᵀ·W_Eᵀ [d_vocab, d_vocab]  W_Eᵀ·W_QK^{h₂}·W_OV^{h₁}·W_E
//
// Row t of our full OV circuit is what attending to token t adds to the
// logits; row t of the full QK circuit is how much a query at token t likes
// each key token; entry (i, j) of the K-composition circuit is how much a
// query at token i likes a key position into which head 1 has moved token
// j (the key side reads y·OV₁ in place of y) — the paper's K-composition
// term of the two-layer QK circuit, whose large positive diagonal is the
// induction mechanism. Every circuit is a FactoredMatrix through d_head: it
// is never materialised at d_model², let alone vocabulary², scale unless
// asked (FactoredMatrix.Dense). Row queries never build a vocab×vocab
// matrix: RowTopK on a built circuit costs O(d_head·d_vocab), and
// Weights.TopAttended and TopBoosted, which go straight from the weights,
// O(d_model·d_vocab). Biases and LayerNorm are left out
// of every circuit, as in TransformerLens: analyse a model processed by
// transformer.Model.ProcessWeights to include the LayerNorm gains.
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
// # Rotary embeddings and grouped-query attention
//
// Real models change what a QK circuit means in two ways.
//
// Rotary embeddings (GPT-NeoX, Pythia, Llama) add no W_pos to the residual
// stream: they turn each head's query at position i by a rotation R(i) and
// its key at position j by R(j), in pairs of d_head coordinates (the first
// rotary_dim of them; the rest are not turned). Rotations in the same
// planes compose, so the score of residual x at i for y at j is
// x·W_Q·R(i−j)·W_Kᵀ·yᵀ: one circuit per offset i − j, not one per pair of
// positions. QK and FullQK are that circuit at offset 0 (a token attending
// to itself) and nothing more; QKAt(l, h, δ) and FullQKAt(l, h, δ) give it
// at offset δ. Where token content and position interact, as in a
// previous-token head, look at several offsets: a previous-token head of a
// rotary model is one whose FullQKAt(·, ·, 1) is large across tokens, not a
// sub-diagonal of PosQK, which a rotary model does not have (PosQK is an
// error there). Composition scores use W_Q·W_Kᵀ unturned, as
// TransformerLens does; for a rotary reader they measure composition at
// offset 0 and are a guide, not the full story.
//
// Grouped-query attention (Llama-2 70B and later, Qwen2, SmolLM2) gives
// several query heads one shared key and value head. Every per-head
// circuit here is per query head, with the convention that a query head
// uses its group's W_K and W_V (transformer.Model.Head returns them), so
// the heads of a group have different QK and OV circuits (their W_Q and
// W_O differ) over shared key and value weights. Composition scores into
// a group's K or V therefore read the same W_K or W_V for each of its query
// heads. Activations are another matter: hook_k and hook_v hold one vector
// per key/value head, so detectors read patterns (one per query head) and
// the copying score reads each query head's group's values.
//
// # Detectors and Olsson et al.'s scores
//
// RunPatterns runs a model once per batch of equal-length sequences and
// keeps every attention pattern A [q, k]; Patterns.Detect scores them
// against a DetectionPattern P with TransformerLens's detect_head
// semantics: "mul" Σ A⊙P / Σ A per sequence (Mul), "abs" 1 − Σ|A − P|/T
// (Abs), optionally with column 0 (ExcludeBOS) and the diagonal
// (ExcludeCurrentToken) zeroed, then the mean over sequences.
// PrevTokenPattern, DuplicateTokenPattern and InductionPattern are
// TransformerLens's three named patterns; any lower-triangular pattern
// works. Tokens are used as given: nothing is prepended.
//
// On repeated random tokens (RepeatedTokens, OlssonTokens: a prefix such as
// BOS, then 25 tokens repeated 4 times, shrunk to fit n_ctx), the
// prefix-matching score (Patterns.PrefixMatching) is the mean attention from
// a repeated token to the tokens that followed its earlier occurrences, and
// the copying score (CopyingScores) the fraction of positions whose own
// token a head's OV output raises above the mean logit. Analyze names heads
// from these scores (the Threshold constants) and reports, for each
// induction head, the earlier head it K-composes with most, as a multiple
// of the baseline and with the eigenvalue positivity of their K-composition
// circuit.
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
// does; the model-level functions, which a user's input reaches (head and
// token indices, token sequences, detection patterns), return errors
// instead (ErrHeadIndex, the model's token errors). Long computations take a context and run on runtime.GOMAXPROCS(0)
// worker goroutines that have all exited when they return; their results do
// not depend on the number of workers. A FactoredMatrix is immutable and
// safe for concurrent use; it aliases, and does not copy, the factors it is
// built from; so are Weights, Patterns and a finished Report, which copy
// what they take from a model. The package has no mutable package-level
// state.
package circuits
