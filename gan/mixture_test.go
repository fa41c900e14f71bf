package gan

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/mechinterp/workbench/data"
)

func TestEvaluateMixture(t *testing.T) {
	mix := data.Ring8() // radius 2, σ 0.02: high quality within 0.06
	s := []float32{
		2, 0, // mode 0, exact
		2.05, 0, // mode 0, 2.5σ
		0, 2.059, // mode 2, just inside 3σ
		0, 2.07, // mode 2, outside
		-2, 0.01, // mode 4
		1, 1, // between modes: not high quality
	}
	mm := EvaluateMixture(mix, s, 6)
	if mm.ModesCaptured != 3 || mm.Modes != 8 || mm.Samples != 6 {
		t.Errorf("EvaluateMixture = %+v, want 3 of 8 modes", mm)
	}
	if want := 4.0 / 6; mm.HighQualityFraction != want {
		t.Errorf("high-quality fraction %v, want %v", mm.HighQualityFraction, want)
	}
	if mm.PerMode[0] != 2 || mm.PerMode[2] != 1 || mm.PerMode[4] != 1 || mm.ModesWith(2) != 1 {
		t.Errorf("per mode %v, ModesWith(2) = %d", mm.PerMode, mm.ModesWith(2))
	}
	// The mixture's own samples: every mode, ≈99.99% within 3σ in 2-D
	// (the Rayleigh tail e^{−4.5} ≈ 1.1% falls outside).
	real := make([]float32, 2*VEEGANSamples)
	mix.Sample(real, VEEGANSamples, rand.New(rand.NewPCG(1, 1)))
	mm = EvaluateMixture(mix, real, VEEGANSamples)
	if mm.ModesCaptured != 8 || mm.HighQualityFraction < 0.97 {
		t.Errorf("real samples: %+v", mm)
	}
}

// TestMixtureRing trains the non-saturating GAN on the 8-mode ring with
// DefaultMixtureOptions and checks the VEEGAN metrics. Measured over seeds
// 1–5 (3,000 steps, 4–10 s): 8 modes each, high-quality fractions
// 0.57–0.71.
func TestMixtureRing(t *testing.T) {
	slow(t)
	const seed = 1
	cfg := MLP()
	cfg.Seed = seed
	m := mustNew(t, cfg)
	o := DefaultMixtureOptions(LossNonSaturating)
	o.Seed, o.Dir = seed, t.TempDir()
	mix := data.Ring8()
	if _, err := Train(context.Background(), m, MixtureSource{mix}, o); err != nil {
		t.Fatal(err)
	}
	mm, err := m.EvaluateMixture(context.Background(), mix, seed)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("seed %d: %d modes, high quality %.3f, per mode %v", seed, mm.ModesCaptured, mm.HighQualityFraction, mm.PerMode)
	if mm.ModesCaptured < 6 || mm.HighQualityFraction < 0.5 {
		t.Errorf("seed %d: %d modes captured, high-quality fraction %.3f; want ≥ 6 and ≥ 0.5", seed, mm.ModesCaptured, mm.HighQualityFraction)
	}
}

// TestVanishingGradients checks the saturation of the minimax generator
// loss: as a discriminator trained against a frozen generator approaches
// perfect accuracy, ‖∇G log(1 − D(G(z)))‖ collapses while
// ‖∇G −log D(G(z))‖ does not. Measured (seed 1): the minimax norm falls
// from 0.054 to 0.00086, the non-saturating one rises from 0.058 to 2.6.
func TestVanishingGradients(t *testing.T) {
	const seed = 1
	m := mustNew(t, MLP())
	o := DefaultVanishingOptions(seed)
	o.At = []int{0, 5, 10, 20, 50, 100, 300}
	ps, err := VanishingGradients(context.Background(), m, MixtureSource{data.Ring8()}, o)
	if err != nil {
		t.Fatal(err)
	}
	first, last := ps[0], ps[len(ps)-1]
	if len(ps) != 7 || first.DSteps != 0 || last.DSteps != 300 {
		t.Fatalf("got %d points from %d to %d steps, want 7 from 0 to 300", len(ps), first.DSteps, last.DSteps)
	}
	switch {
	case last.DAccuracy < 0.99 || last.DFake > 0.01:
		t.Errorf("seed %d: the discriminator did not become near-optimal: %+v", seed, last)
	case last.MinimaxNorm > first.MinimaxNorm/10:
		t.Errorf("seed %d: minimax gradient norm %.3g → %.3g, want a collapse by 10×", seed, first.MinimaxNorm, last.MinimaxNorm)
	case last.NonSaturatingNorm < first.NonSaturatingNorm:
		t.Errorf("seed %d: non-saturating gradient norm %.3g → %.3g, want no collapse", seed, first.NonSaturatingNorm, last.NonSaturatingNorm)
	case last.NonSaturatingNorm < 100*last.MinimaxNorm:
		t.Errorf("seed %d: at the end ‖∇‖ non-saturating %.3g vs minimax %.3g, want 100× apart", seed, last.NonSaturatingNorm, last.MinimaxNorm)
	}
	// Deterministic, and m untouched: a shorter run repeats the start.
	o.At = []int{0, 5}
	again, err := VanishingGradients(context.Background(), m, MixtureSource{data.Ring8()}, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 2 || again[0] != ps[0] || again[1] != ps[1] {
		t.Errorf("a second run measured %+v, the first %+v", again, ps[:2])
	}
}
