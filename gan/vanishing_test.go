package gan

import (
	"context"
	"testing"

	"github.com/mechinterp/workbench/data"
)

// TestVanishingGradientsFullyVanished is the case the experiment exists
// for, taken to its limit: a discriminator whose logit bias is −10⁴ gives
// D(G(z)) = σ(−10⁴), which underflows to exactly 0, so the minimax
// gradient is exactly zero while the non-saturating one, (σ − 1)/n, is
// not. Each norm must land in its own field.
func TestVanishingGradientsFullyVanished(t *testing.T) {
	m := mustNew(t, MLP())
	bias, _, ok := m.D.P.Get("D.head.bias")
	if !ok {
		t.Fatal(`no parameter "D.head.bias"`)
	}
	bias[0] = -1e4
	o := DefaultVanishingOptions(1)
	o.At = []int{0}
	ps, err := VanishingGradients(context.Background(), m, MixtureSource{data.Ring8()}, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 {
		t.Fatalf("got %d points, want 1", len(ps))
	}
	p := ps[0]
	if p.DFake != 0 {
		t.Fatalf("mean D(G(z)) = %g, want exactly 0 (the logit bias did not saturate D)", p.DFake)
	}
	if p.MinimaxNorm != 0 {
		t.Errorf("minimax norm %g, want exactly 0: its logit gradient −σ(f)/n is 0", p.MinimaxNorm)
	}
	if !(p.NonSaturatingNorm > 0) {
		t.Errorf("non-saturating norm %g, want > 0: its logit gradient (σ(f) − 1)/n is −1/n", p.NonSaturatingNorm)
	}
}
