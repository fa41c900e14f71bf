package main

import (
	"testing"

	"github.com/mechinterp/workbench/notebooks/report/reporttest"
)

func TestQuick(t *testing.T) {
	res := reporttest.Run(t, name, run,
		"entropy_rate", "symmetric_floor", "untied_direct_eval_loss", "tied_direct_eval_loss",
		"tied_direct_direct_max_asymmetry", "untied_direct_direct_antisymmetric_share", "true_antisymmetric_share",
		"tied_head_eval_loss", "tied_head_table_antisymmetric_share")
	reporttest.Claimed(t, res, "truth_half_asymmetric", "symmetric_splits", "untied_learns_chain", "tied_symmetric",
		"tied_below_symmetric_floor", "tied_head_recovers", "tied_head_attends_self")
	f := func(k string) float64 { return reporttest.Float(t, res, k) }
	// The tied direct path W_E·W_Eᵀ is symmetric bit for bit.
	if v := f("tied_direct_direct_max_asymmetry"); v != 0 {
		t.Errorf("tied direct path: max |M − Mᵀ| = %g, want 0", v)
	}
	// The task needs asymmetry: the best symmetric table is well above the
	// entropy rate (0.5 nats at the default sizes; 0.1 is a generous margin).
	h, sym := f("entropy_rate"), f("symmetric_floor")
	if sym < h+0.1 {
		t.Errorf("best symmetric table %.4f, entropy rate %.4f: want a gap ≥ 0.1", sym, h)
	}
	// The measured loss gap: untied below tied.
	if u, tt := f("untied_direct_eval_loss"), f("tied_direct_eval_loss"); u >= tt {
		t.Errorf("untied direct loss %.4f ≥ tied direct loss %.4f", u, tt)
	}
	// A tied direct path cannot beat the symmetric floor by more than noise.
	if tt := f("tied_direct_eval_loss"); tt < sym-evalNoise {
		t.Errorf("tied direct loss %.4f beats the symmetric floor %.4f by more than %g", tt, sym, evalNoise)
	}
	// The untied direct path learns an asymmetric table, like the truth's.
	if v, want := f("untied_direct_direct_antisymmetric_share"), f("true_antisymmetric_share"); v < want/2 {
		t.Errorf("untied direct path antisymmetric share %.3f, want at least half the truth's %.3f", v, want)
	}
}
