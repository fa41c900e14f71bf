package main

import (
	"testing"

	"github.com/mechinterp/workbench/notebooks/report/reporttest"
)

func TestQuick(t *testing.T) {
	res := reporttest.Run(t, name, run,
		"scramble_l0_all", "scramble_ind", "prev_prevhead", "prev_l0_all",
		"attr_pearson_prev_head_out", "attr_pearson_scramble_head_out", "path_k", "path_q", "path_v", "attr_worst_error_site", "resid_l0_even", "resid_l1_odd")
	reporttest.Claimed(t, res, "resid_moves_one_position", "scramble_needs_layer1", "prev_needs_prevhead",
		"attribution_tracks_heads", "worst_correlation_tiny", "key_path_dominates")
	// The demo model's circuit, read causally even on a few sequences.
	if k, q := reporttest.Float(t, res, "path_k"), reporttest.Float(t, res, "path_q"); k <= q {
		t.Errorf("key path %.3f not above query path %.3f", k, q)
	}
}
