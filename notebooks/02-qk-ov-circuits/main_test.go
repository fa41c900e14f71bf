package main

import (
	"testing"

	"github.com/mechinterp/workbench/notebooks/report/reporttest"
)

func TestQuick(t *testing.T) {
	res := reporttest.Run(t, name, run,
		"ind_ov_positivity", "ind_ov_top1", "prev_ov_positivity", "posqk_prev_frac",
		"k_relative", "q_relative", "v_relative", "baseline_analytic", "virtual_positivity", "virtual_top1")
	reporttest.Claimed(t, res, "ind_ov_copies", "posqk_most_prev", "posqk_incomplete", "k_composition_dominates", "qv_below_baseline")
	// The demo model is trained: its circuit is there even in quick mode.
	if v := reporttest.Float(t, res, "ind_ov_positivity"); v < 0.5 {
		t.Errorf("induction head OV positivity %.3f, want a copying head (> 0.5)", v)
	}
	if k, q := reporttest.Float(t, res, "k_relative"), reporttest.Float(t, res, "q_relative"); k <= q {
		t.Errorf("K-composition %.2f× not above Q-composition %.2f×", k, q)
	}
}
