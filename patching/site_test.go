package patching

import (
	"context"
	"testing"

	"github.com/mechinterp/workbench/hooks"
)

// TestZeroPosIsEveryPosition checks that a Site with no Pos covers every
// position and that At(p) covers position p alone: zero-ablating resid_pre
// of layer 1 zeroes all of it, or only row p.
func TestZeroPosIsEveryPosition(t *testing.T) {
	ctx := context.Background()
	cfg := configs()["ln_gelu"]
	m := newModel(t, cfg, 5)
	toks, _ := pair(6, 2, 5, cfg.DVocab)
	const p = 3
	for _, tc := range []struct {
		site Site
		zero func(pos int) bool
	}{
		{Site{Kind: ResidPre, Layer: 1}, func(int) bool { return true }},
		{Site{Kind: ResidPre, Layer: 1, Pos: At(p)}, func(pos int) bool { return pos == p }},
	} {
		abl := must(ZeroAblation(m, tc.site))
		hs, cache := hooks.Capture(hooks.Names(hooks.ResidPre(1)))
		must(m.Run(ctx, toks, hooks.Merge(abl, hs)))
		r, _ := cache.Get(hooks.ResidPre(1)) // [batch, pos, d_model]
		for b := range r.Shape[0] {
			for pos := range r.Shape[1] {
				nonZero := false
				for _, v := range r.Row(b, pos) {
					nonZero = nonZero || v != 0
				}
				if nonZero == tc.zero(pos) {
					t.Errorf("%v: sequence %d position %d non-zero %v, want %v", tc.site, b, pos, nonZero, !tc.zero(pos))
				}
			}
		}
	}
	if got, want := (Site{Kind: HeadOut, Layer: 1, Head: 2}).String(), "head_out L1H2"; got != want {
		t.Errorf("String of an every-position site = %q, want %q", got, want)
	}
	if got, want := (Site{Kind: HeadOut, Layer: 1, Head: 2, Pos: At(0)}).String(), "head_out L1H2 pos 0"; got != want {
		t.Errorf("String of a position-0 site = %q, want %q", got, want)
	}
}
