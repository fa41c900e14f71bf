package main

import (
	"math"
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

// TestVisibleBump checks the loss-bump rule on made-up curves: a falling
// curve with step-to-step noise has no visible bump (train.LossBump would
// still name its largest wiggle), a curve that climbs a third above its
// low has one, at the climb.
func TestVisibleBump(t *testing.T) {
	var steps, noisy, bumped []float64
	for i := range 200 {
		steps = append(steps, float64(10*i))
		v := 4 * math.Exp(-float64(i)/60)
		if i%2 == 1 {
			v *= 1.08 // 8% wiggles, up and down
		}
		noisy = append(noisy, v)
		b := 4 * math.Exp(-float64(i)/60)
		if i >= 80 && i < 100 {
			b = 4 * math.Exp(-80.0/60) * (1 + 0.5*float64(i-80)/20) // climbs 50%
		} else if i >= 100 {
			b = 4 * math.Exp(-float64(i-20)/60) * 1.5
		}
		bumped = append(bumped, b)
	}
	if b := visibleBump(steps, noisy); b.visible() {
		t.Errorf("falling noisy curve: bump of %.0f%% at step %.0f, want none visible", 100*b.rise, b.step)
	}
	b := visibleBump(steps, bumped)
	if !b.visible() || b.step < 800 || b.step > 1050 {
		t.Errorf("curve climbing 50%% over steps 800–1000: bump of %.0f%% at step %.0f, want a visible one there", 100*b.rise, b.step)
	}
}
