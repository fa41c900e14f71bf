package main

import (
	"testing"

	"github.com/mechinterp/workbench/notebooks/report/reporttest"
)

func TestQuick(t *testing.T) {
	res := reporttest.Run(t, name, run,
		"minimax_grad_norm", "nonsat_grad_norm", "d_accuracy_final", "ring_minimax_modes", "grid_wgan_modes",
		"demo_fid", "demo_is", "real_vs_real_fid", "noise_fid", "arith_success", "arith_control",
		"ablation_top_class_prob", "ablation_random_class_prob", "walk_linear_min_norm_ratio")
	reporttest.Claimed(t, res, "minimax_vanishes", "wgan_slowest_ring", "walks_gradual", "arithmetic_beats_random", "top_units_matter_more")
	// With a discriminator that wins, the minimax gradient vanishes and the non-saturating one does not.
	if mm, ns := reporttest.Float(t, res, "minimax_grad_norm"), reporttest.Float(t, res, "nonsat_grad_norm"); !(ns > mm) {
		t.Errorf("non-saturating gradient norm %v, minimax %v: want non-saturating larger", ns, mm)
	}
	// A spherical walk keeps ‖z‖; a linear one dips below its ends.
	if lin, sph := reporttest.Float(t, res, "walk_linear_min_norm_ratio"), reporttest.Float(t, res, "walk_spherical_min_norm_ratio"); !(lin < sph) {
		t.Errorf("min ‖z‖ ratio: linear %v, spherical %v: want linear smaller", lin, sph)
	}
	for _, k := range []string{"arith_success", "arith_control", "ablation_top_class_prob"} {
		if v := reporttest.Float(t, res, k); v < 0 || v > 1 {
			t.Errorf("%s = %v, want a fraction in [0, 1]", k, v)
		}
	}
}

// TestFull runs the full notebook (minutes: not under -short): the run that
// checks the claims the quick sizes cannot show.
func TestFull(t *testing.T) {
	if testing.Short() {
		t.Skip("the full notebook trains for minutes")
	}
	res := reporttest.RunFull(t, name, run)
	reporttest.Claimed(t, res, "minimax_vanishes", "wgan_slowest_ring", "walks_gradual", "arithmetic_beats_random", "top_units_matter_more")
}
