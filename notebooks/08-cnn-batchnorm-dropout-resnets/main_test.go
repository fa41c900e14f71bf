package main

import (
	"testing"

	"github.com/mechinterp/workbench/notebooks/report/reporttest"
)

func TestQuick(t *testing.T) {
	res := reporttest.Run(t, name, run,
		"test_acc", "ensemble_acc", "ensemble_agreement", "single_mask_agreement", "resnet_nobn_last_std", "plain_nobn_last_std",
		"last_std_residual_bn", "plain_final_loss", "resnet_final_loss", "ig_completeness_error")
	reporttest.Claimed(t, res, "bn_order_one", "nobn_residual_accumulates", "single_mask_worse", "ensemble_recovers", "ig_complete")
	for _, k := range []string{"test_acc", "ensemble_acc", "ensemble_agreement", "single_mask_agreement"} {
		if v := reporttest.Float(t, res, k); v < 0 || v > 1 {
			t.Errorf("%s = %v, want a fraction in [0, 1]", k, v)
		}
	}
	// Without BatchNorm the residual stream accumulates variance that the plain net loses.
	if res, plain := reporttest.Float(t, res, "resnet_nobn_last_std"), reporttest.Float(t, res, "plain_nobn_last_std"); !(res > plain) {
		t.Errorf("last block's std without BN: residual %v, plain %v: want residual larger", res, plain)
	}
}

// TestFull runs the full notebook (minutes: not under -short), which checks
// integrated gradients' completeness with its full number of steps.
func TestFull(t *testing.T) {
	if testing.Short() {
		t.Skip("the full notebook trains for minutes")
	}
	res := reporttest.RunFull(t, name, run)
	reporttest.Claimed(t, res, "bn_order_one", "nobn_residual_accumulates", "single_mask_worse", "ensemble_recovers", "ig_complete")
}
