package induction

import (
	"context"
	"os"
	"testing"
)

// TestDefaultsFormCircuit trains the default model (the bars) for
// seeds 0, 1 and 2. It takes a few seconds per seed on two cores, so it is
// skipped under -short unless CI=true.
func TestDefaultsFormCircuit(t *testing.T) {
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("trains three full default runs; skipped under -short (runs when CI=true)")
	}
	for _, seed := range []uint64{0, 1, 2} {
		cfg := Default()
		cfg.Seed = seed
		r, err := Train(context.Background(), cfg, t.TempDir(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		best := func(scores [][]float64, l int) float64 {
			m := 0.0
			for _, v := range scores[l] {
				m = max(m, v)
			}
			return m
		}
		t.Logf("seed %d: acc %.4f, probe %.3f, induction L1 %.3f, prev-token L0 %.3f, steps to 90%% %v, to 99%% %v, phase change %v, K-comp %.3f (baseline %.3f), %.1f s, %.0f tok/s",
			seed, r.FinalEvalAcc, r.ProbeAcc, best(r.InductionScore, 1), best(r.PrevTokenScore, 0),
			deref(r.StepsToAcc90), deref(r.StepsToAcc99), deref(r.PhaseChangeStep), r.KCompositionMax, r.KCompositionBaseline, r.WallSeconds, r.TokensPerSecond)
		if r.FinalEvalAcc < 0.99 {
			t.Errorf("seed %d: held-out second-half accuracy %.4f < 0.99", seed, r.FinalEvalAcc)
		}
		if v := best(r.InductionScore, 1); v < 0.5 {
			t.Errorf("seed %d: best layer-1 induction score %.3f < 0.5", seed, v)
		}
		if v := best(r.PrevTokenScore, 0); v < 0.4 {
			t.Errorf("seed %d: best layer-0 previous-token score %.3f < 0.4", seed, v)
		}
		if r.ProbeAcc < 0.75 {
			t.Errorf("seed %d: generalisation probe accuracy %.3f < 0.75", seed, r.ProbeAcc)
		}
		if r.PhaseChangeStep == nil {
			t.Errorf("seed %d: no phase change detected", seed)
		}
	}
}

func deref(p *int) any {
	if p == nil {
		return "never"
	}
	return *p
}

// BenchmarkTrainStep measures a data-parallel training step (forward,
// backward, AdamW) of the default model on the default task.
func BenchmarkTrainStep(b *testing.B) {
	for _, workers := range []int{1, 2} {
		b.Run("d_model=64/pos=40/batch=64/workers="+string(rune('0'+workers)), func(b *testing.B) {
			cfg := Default()
			cfg.Workers = workers
			tr, o, err := newTrainable(cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer tr.Close()
			ctx := context.Background()
			step := 0
			b.ReportAllocs()
			for b.Loop() {
				if _, err := tr.Step(ctx, step); err != nil {
					b.Fatal(err)
				}
				o.Step(cfg.LR)
				step++
			}
			tokens := float64(cfg.Batch * cfg.Task().SeqLen())
			b.ReportMetric(tokens*float64(b.N)/b.Elapsed().Seconds(), "tok/s")
		})
	}
}
