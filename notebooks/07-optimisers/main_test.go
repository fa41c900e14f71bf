package main

import (
	"math"
	"testing"

	"github.com/mechinterp/workbench/notebooks/report/reporttest"
)

func TestQuick(t *testing.T) {
	res := reporttest.Run(t, name, run,
		"rosenbrock_adam_distance", "rosenbrock_sgd_distance", "rosenbrock_momentum_0_9_distance",
		"quad_rate_gd", "quad_theory_gd", "quad_rate_hb", "quad_theory_hb", "quad_rate_nag",
		"mlp_adam_train_loss", "mlp_initial_loss", "decay_bias_cost", "batch_grow_steps", "batch_decay_steps")
	f := func(k string) float64 { return reporttest.Float(t, res, k) }
	reporttest.Claimed(t, res, "rosenbrock_sgd_creeps", "rosenbrock_momentum_adam_arrive", "quad_gd_theory", "quad_hb_theory",
		"adam_not_rotation_invariant", "mlp_optimizers_converge", "decay_memorises_without", "decay_weights_helps",
		"decay_biases_cost_uncentred", "batch_both_lower_floor", "batch_grow_fewer_steps", "batch_large_wastes")
	for _, k := range []string{"rosenbrock_adam_distance", "rosenbrock_momentum_0_9_distance"} {
		if v := f(k); v > valleyTol {
			t.Errorf("%s = %.2e, want ≤ %g", k, v, valleyTol)
		}
	}
	if a, s := f("rosenbrock_adam_distance"), f("rosenbrock_sgd_distance"); s < 10*a {
		t.Errorf("plain SGD ends %.2e from Rosenbrock's minimum, Adam %.2e: want SGD ≥ 10× further", s, a)
	}
	// Gradient descent's rate is exact theory (a linear recursion); heavy
	// ball at its optimum decays like t·ρᵗ, which reads ~2% slower over the
	// fitted window.
	if got, want := f("quad_rate_gd"), f("quad_theory_gd"); math.Abs(got-want) > 1e-3 {
		t.Errorf("gradient descent rate %.4f, theory %.4f", got, want)
	}
	if got, want := f("quad_rate_hb"), f("quad_theory_hb"); got < want || got > want+0.025 {
		t.Errorf("heavy-ball rate %.4f, want in [%.4f, %.4f]", got, want, want+0.025)
	}
	if got := f("quad_rate_nag"); got > 1-1/math.Sqrt(100)+0.02 {
		t.Errorf("Nesterov rate %.4f, want about ≤ 1 − 1/√κ = 0.9", got)
	}
	if a, i := f("mlp_adam_train_loss"), f("mlp_initial_loss"); a > i/2 {
		t.Errorf("MLP with Adam: training loss %.3f, want below half the initial %.3f", a, i)
	}
	if v := f("decay_bias_cost"); v <= 0 {
		t.Errorf("decaying biases on off-centre data changed held-out loss by %.3f, want a cost (> 0)", v)
	}
	if g, d := f("batch_grow_steps"), f("batch_decay_steps"); g >= d {
		t.Errorf("growing the batch took %v steps, decaying the rate %v: want fewer", g, d)
	}
}

// TestFull runs the full notebook (minutes: not under -short): the run that
// checks the claims only the full sizes can show.
func TestFull(t *testing.T) {
	if testing.Short() {
		t.Skip("the full notebook trains for minutes")
	}
	res := reporttest.RunFull(t, name, run)
	reporttest.Claimed(t, res, "mlp_optimizers_converge", "decay_memorises_without", "batch_both_lower_floor")
}
