// Package sae trains and runs sparse dictionaries on a model's
// activations: sparse autoencoders (SAEs) with ReLU and an L1 penalty,
// TopK and BatchTopK activations, and JumpReLU with an L0 penalty whose
// thresholds train by a straight-through estimator (Rajamanoharan et al.
// 2024); and transcoders, which predict one hook point (an MLP's output)
// from another (its input) through the same sparse bottleneck.
//
// Decoder rows are held at unit norm: each step removes the gradient's
// component along its row and renormalises after the update. The
// encoder starts as the decoder's transpose. TopK dictionaries can train
// their dead features with the auxiliary loss of Gao et al. (2024).
//
// On top of a trained dictionary: feature dashboards (Dashboards: top
// contexts, activation histograms, density, direct logit effects, similar
// features), steering along a feature's decoder direction or any
// direction (Steering, Steer), attribution of a logit to features through
// the decoder (AttributeLogit) and feature-to-feature edges between
// transcoders (TranscoderEdges), and the sparsity–fidelity curve over a
// sweep of k or L1 (Curve).
//
// Toy is the ground truth: sparse features in superposition with known
// directions, against which MMCS (mean max cosine similarity) measures
// how well a dictionary recovers them.
package sae
