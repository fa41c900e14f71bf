package main

import (
	"math"
	"testing"

	"github.com/mechinterp/workbench/notebooks/report/reporttest"
)

func TestQuick(t *testing.T) {
	res := reporttest.Run(t, name, run,
		"geom_represented_dense", "geom_represented_sparse", "geom_gap_error_sparse", "phase_classes",
		"phase_superposed_cells", "phase_superposed_dense_column", "phase_superposed_sparsest_column",
		"dims_dstar_dense", "dims_dstar_sparsest")
	reporttest.Claimed(t, res, "geom_dense_pca", "geom_sparse_superposed", "phase_dense_no_superposition",
		"phase_sparse_superposition", "dims_dense_pca", "dims_sparsest_squeezed")
	f := func(k string) float64 { return reporttest.Float(t, res, k) }
	// Dense features: at most m = 2 features get a direction.
	if v := f("geom_represented_dense"); v > 2 {
		t.Errorf("S = 0: %v features represented in 2 dimensions, want ≤ 2", v)
	}
	// Sparse features: superposition, more features than dimensions.
	if v := f("geom_represented_sparse"); v < 4 {
		t.Errorf("S = 0.9: %v features represented in 2 dimensions, want ≥ 4 (superposition)", v)
	}
	// The phase diagram: no superposition with dense features — except at
	// most at r = 1, where two features of equal importance tie and a
	// shrunken antipodal pair edges out a single feature — and superposition
	// with sparse ones.
	if v := f("phase_superposed_dense_column"); v > 1 {
		t.Errorf("dense features: %v superposed points, want at most 1 (r = 1)", v)
	}
	if v := f("phase_superposed_sparsest_column"); v < 2 {
		t.Errorf("sparsest features: %v superposed points, want ≥ 2", v)
	}
	// dimsTol: D* of dense features is m/‖W‖²_F with m features of norm
	// ≈ 1 each; quick training leaves them a few percent short or long.
	const dimsTol = 0.1
	if v := f("dims_dstar_dense"); math.Abs(v-1) > dimsTol {
		t.Errorf("dense D* = %.3f, want 1 ± %g", v, dimsTol)
	}
	if v := f("dims_dstar_sparsest"); v > 0.5 {
		t.Errorf("sparsest D* = %.3f, want < 1/2 (more features than dimensions)", v)
	}
}
