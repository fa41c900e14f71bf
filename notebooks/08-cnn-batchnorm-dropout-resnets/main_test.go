package main

import (
	"testing"

	"github.com/mechinterp/workbench/notebooks/report/reporttest"
)

func TestQuick(t *testing.T) {
	res := reporttest.Run(t, name, run,
		"test_acc", "ensemble_acc", "ensemble_agreement", "single_mask_agreement", "resnet_nobn_last_std", "plain_nobn_last_std",
		"last_std_residual_bn", "plain_final_loss", "resnet_final_loss", "ig_completeness_error")
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
