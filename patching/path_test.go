package patching

import (
	"context"
	"math"
	"testing"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
)

// TestPathPatchByHand rebuilds path patching from its definition on a model
// without LayerNorm, where the receiver's input is an affine function of
// the residual stream: x' = r_corr + (z_clean − z_corr)[s]·W_O[s], then
// q/k/v[receiver] = x'·W[receiver] + b, written into a full corrupted run.
func TestPathPatchByHand(t *testing.T) {
	ctx := context.Background()
	cfg := configs()["attn_only"]
	m := newModel(t, cfg, 51)
	clean, corrupted := pair(52, 3, 8, cfg.DVocab)
	metric := someLogitDiff(clean, cfg.DVocab)
	e := must(New(ctx, m, clean, corrupted, metric))
	capC, cleanCache := hooks.Capture(hooks.Names(hooks.Z(0)))
	must(m.Run(ctx, clean, capC))
	capX, corrCache := hooks.Capture(hooks.Names(hooks.Z(0), hooks.ResidPre(1)))
	must(m.Run(ctx, corrupted, capX))
	zc, _ := cleanCache.Get(hooks.Z(0))
	zx, _ := corrCache.Get(hooks.Z(0))
	r, _ := corrCache.Get(hooks.ResidPre(1))
	B, P, d, H, dh := 3, 8, cfg.DModel, cfg.NHeads, cfg.DHead
	moved := 0.0
	for _, input := range []Kind{Q, K, V} {
		for sh := 0; sh < H; sh++ {
			for rh := 0; rh < H; rh++ {
				ws, rw := m.Head(0, sh), m.Head(1, rh)
				w, bias := map[Kind]*tensor.Tensor{Q: rw.WQ, K: rw.WK, V: rw.WV}[input], map[Kind]*tensor.Tensor{Q: rw.BQ, K: rw.BK, V: rw.BV}[input]
				in := tensor.New(B, P, dh) // the receiver's new input
				for row := 0; row < B*P; row++ {
					x := make([]float64, d)
					for i := range x {
						x[i] = float64(r.Data[row*d+i])
						for j := 0; j < dh; j++ {
							dz := float64(zc.Data[(row*H+sh)*dh+j]) - float64(zx.Data[(row*H+sh)*dh+j])
							x[i] += dz * float64(ws.WO.Data[j*d+i])
						}
					}
					for j := 0; j < dh; j++ {
						v := float64(bias.Data[j])
						for i := range x {
							v += x[i] * float64(w.Data[i*dh+j])
						}
						in.Data[row*dh+j] = float32(v)
					}
				}
				hs := hooks.NewSet().Add(input.Hook(1), func(a *tensor.Tensor, _ hooks.Name) *tensor.Tensor {
					for row := 0; row < B*P; row++ {
						copy(a.Data[(row*H+rh)*dh:][:dh], in.Data[row*dh:][:dh])
					}
					return nil
				})
				want := metric.Value(must(m.Run(ctx, corrupted, hs)))
				got := must(e.PathPatch(ctx, Head{0, sh}, Head{1, rh}, input))
				moved = math.Max(moved, math.Abs(got-e.Corrupted()))
				if math.Abs(got-want) > roundTol*math.Max(1, math.Abs(want)) {
					t.Errorf("path L0H%d → L1H%d.%s: %v, by hand %v", sh, rh, input, got, want)
				}
			}
		}
	}
	if moved < 0.05 {
		t.Errorf("largest path effect %v: the test shows nothing", moved)
	}
}

func TestPathSweep(t *testing.T) {
	ctx := context.Background()
	cfg := configs()["ln_gelu"]
	cfg.NLayers = 3
	m := newModel(t, cfg, 61)
	clean, corrupted := pair(62, 2, 6, cfg.DVocab)
	e := must(New(ctx, m, clean, corrupted, someLogitDiff(clean, cfg.DVocab)))
	g := must(e.PathSweep(ctx, Head{2, 1}, V, Options{}))
	if len(g.Values) != 2*cfg.NHeads || g.Axes[0][0] != "L0H0" || g.Axes[0][len(g.Values)-1] != "L1H2" {
		t.Fatalf("path sweep axes %v", g.Axes)
	}
	for i, s := range g.Sites {
		want := must(e.PathPatch(ctx, Head{s.Layer, s.Head}, Head{2, 1}, V))
		if g.Values[i] != want {
			t.Errorf("sweep %v: %v, single path patch %v", s, g.Values[i], want)
		}
	}
	if _, err := e.PathSweep(ctx, Head{2, 1}, V, Options{ByPos: true}); err == nil {
		t.Error("path sweep by position accepted")
	}
}
