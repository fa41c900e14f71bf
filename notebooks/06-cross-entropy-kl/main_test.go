package main

import (
	"math"
	"testing"

	"github.com/mechinterp/workbench/notebooks/report/reporttest"
)

func TestQuick(t *testing.T) {
	res := reporttest.Run(t, name, run,
		"identity_max_residual", "kelly_rate", "kelly_rate_predicted", "kelly_max_abs_z", "kelly_slope",
		"limit_max_abs_z", "limit_slope", "likelihood_ce_max_diff", "mle_max_gap", "mle_final_kl", "kl_hat_ratio_largest_n")
	reporttest.Claimed(t, res, "identity_rounding", "kl_nonnegative_asymmetric", "kelly_rates_predicted", "kelly_fastest",
		"kelly_slope_minus_one", "limit_slope_half", "mle_highest_likelihood", "mle_converges", "in_sample_optimistic")
	f := func(k string) float64 { return reporttest.Float(t, res, k) }
	if v := f("identity_max_residual"); v > identityTol {
		t.Errorf("max |CE − H − KL| = %g, want ≤ %g", v, identityTol)
	}
	if v := f("kelly_max_abs_z"); v > maxZ {
		t.Errorf("a gambler's measured doubling rate is %.2f standard errors from CE(p,q) − CE(p,b), want ≤ %d", v, maxZ)
	}
	if v := f("kelly_slope"); math.Abs(v+1) > slopeTol {
		t.Errorf("slope of doubling rate against cross-entropy = %.3f, want −1 ± %g", v, slopeTol)
	}
	if v := f("limit_max_abs_z"); v > maxZ {
		t.Errorf("average log-loss is %.2f standard errors from CE, want ≤ %d", v, maxZ)
	}
	if v := f("limit_slope"); math.Abs(v+0.5) > limitSlopeTol {
		t.Errorf("log-log slope of the log-loss error = %.3f, want −0.5 ± %g", v, limitSlopeTol)
	}
	if v := f("likelihood_ce_max_diff"); v > identityTol {
		t.Errorf("max |log-likelihood/n + CE(p̂, q)| = %g, want ≤ %g", v, identityTol)
	}
	if v := f("mle_max_gap"); v > mleGapTol {
		t.Errorf("max |q − p̂| after gradient descent = %g, want ≤ %g", v, mleGapTol)
	}
	if a, b := f("mle_final_kl"), f("mle_initial_kl"); a >= b/100 {
		t.Errorf("KL(p̂‖q) fell from %g to %g, want a hundredfold fall", b, a)
	}
	// 400 samples per size: the mean of KL(p̂‖p), a scaled χ²(k−1)/(2n)
	// with relative standard deviation √(2/(k−1))/√400 ≈ 2.4%, is within
	// 20% of Miller's (k−1)/(2n ln 2) at n = 5000.
	if v := f("kl_hat_ratio_largest_n"); math.Abs(v-1) > biasRatioTol {
		t.Errorf("mean KL(p̂‖p) / ((k−1)/(2n ln 2)) = %.2f, want 1 ± %g", v, biasRatioTol)
	}
}
