package main

import (
	"testing"

	"github.com/mechinterp/workbench/notebooks/report/reporttest"
)

func TestQuick(t *testing.T) {
	res := reporttest.Run(t, name, run, "toy_mmcs", "curve_k1_fvu", "curve_k4_fvu", "curve_k16_fvu", "token_features", "steer_hits")
	reporttest.Claimed(t, res, "interference", "too_small", "too_large", "curve_monotone", "ce_caveat", "token_features", "steer")
}

// TestFull runs the full notebook, which alone checks MMCS ≥ 0.95 at the
// right dictionary size after 3,000 steps.
func TestFull(t *testing.T) {
	res := reporttest.RunFull(t, name, run)
	reporttest.Claimed(t, res, "recovered", "interference", "too_small", "too_large", "curve_monotone", "ce_caveat", "token_features", "steer")
}
