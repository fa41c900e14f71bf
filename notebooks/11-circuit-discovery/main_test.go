package main

import (
	"testing"

	"github.com/mechinterp/workbench/notebooks/report/reporttest"
)

func TestQuick(t *testing.T) {
	res := reporttest.Run(t, name, run, "compiled_true_edges", "compiled_corrupted_acdc_kl_auc",
		"compiled_corrupted_eap-ig_loss_auc", "trained_eap_auc", "trained_eap-ig_auc", "trained_acdc_auc")
	reporttest.Claimed(t, res, "acdc_exact", "ig_auc_one", "eap_kl_blind", "trained_found")
}
