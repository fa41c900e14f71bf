package main

import (
	"testing"

	"github.com/mechinterp/workbench/notebooks/report/reporttest"
)

func TestQuick(t *testing.T) {
	res := reporttest.Run(t, name, run,
		"final_acc", "logit_l0_acc", "tuned_l0_acc", "logit_l0_kl", "tuned_l0_kl", "logit_embed_kl", "points")
	reporttest.Claimed(t, res, "tuned_closer_in_kl", "answer_only_after_layer1", "confident_unpredictable")
	// At the final residual both lenses are the model: the trained demo
	// model predicts the repeated half.
	if v := reporttest.Float(t, res, "final_acc"); v < 0.9 {
		t.Errorf("final accuracy %.3f, want the trained model's (> 0.9)", v)
	}
}
