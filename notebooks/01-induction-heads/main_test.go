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
	for _, k := range []string{"final_eval_acc", "probe_acc", "acc_intact", "fixed_probe_acc"} {
		if v := reporttest.Float(t, res, k); v < 0 || v > 1 {
			t.Errorf("%s = %v, want an accuracy in [0, 1]", k, v)
		}
	}
}
