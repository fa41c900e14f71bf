package main

import (
	"testing"

	"github.com/mechinterp/workbench/notebooks/report/reporttest"
)

func TestQuick(t *testing.T) {
	res := reporttest.Run(t, name, run,
		"final_eval_acc", "probe_acc", "phase_change_step", "prev_token_score", "induction_score",
		"k_composition", "k_composition_relative", "acc_intact", "acc_ablate_prev", "acc_ablate_prev_all",
		"fixed_eval_acc", "fixed_probe_acc", "prev_token_head", "induction_head")
	reporttest.Claimed(t, res, fullClaims...) // unchecked in quick mode, but made
	for _, k := range []string{"final_eval_acc", "probe_acc", "acc_intact", "fixed_probe_acc"} {
		if v := reporttest.Float(t, res, k); v < 0 || v > 1 {
			t.Errorf("%s = %v, want an accuracy in [0, 1]", k, v)
		}
	}
}

// fullClaims are the notebook's results: only the full run (two trainings
// of 2,000 steps) is large enough to show them.
var fullClaims = []string{"phase_change", "heads_by_layer", "k_composition_above_baseline", "ablation_collapses",
	"single_heads_dent", "fixed_fails_probe", "fixed_k_composition_misleads", "fixed_faster"}

// TestFull runs the full notebook (about a minute on two cores: not under
// -short) and requires every claim to hold.
func TestFull(t *testing.T) {
	if testing.Short() {
		t.Skip("the full notebook trains two models for 2,000 steps")
	}
	res := reporttest.RunFull(t, name, run)
	reporttest.Claimed(t, res, fullClaims...)
}
