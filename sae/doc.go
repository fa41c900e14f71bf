// Package sae trains and runs sparse dictionaries on a model's
// activations: sparse autoencoders (SAEs) with ReLU and an L1 penalty,
// TopK and BatchTopK activations (JumpReLU loaded and run, not trained),
// and transcoders, which predict one hook point (an MLP's output) from
// another (its input) through the same sparse bottleneck.
//
// Decoder rows are held at unit norm: each step removes the gradient's
// component along its row and renormalises after the update. The
// encoder starts as the decoder's transpose. TopK dictionaries can train
// their dead features with the auxiliary loss of Gao et al. (2024).
//
// Toy is the ground truth: sparse features in superposition with known
// directions, against which MMCS (mean max cosine similarity) measures
// how well a dictionary recovers them.
package sae
