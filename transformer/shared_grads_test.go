package transformer

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
)

// TestParallelSharedGrads checks a Parallel shard against a plain
// workspace: the same loss, parameter gradients and every activation
// gradient Grad reports (up to rounding: bit for bit in models that are not
// prunable), although copy-only ones share buffers (shareCopyGrads), only
// weighted rows are computed where they can be (forwardRows, backwardScaled)
// and block 0 works from tables per token and position (forwardRows,
// foldEmbedGrad, which leaves three points without a gradient); and that
// backward hooks are refused.
//
// Besides the tiny variants at 7 positions, the toy model (d_head 16, the
// attention fast path) and ln_gelu (the Gemm path, LayerNorm, MLP) run at
// 300 positions: past every attention tile (16-column blocks, 128
// register-resident rows, 128-key chunks) and GEMM block (64 columns, 128
// and 256 deep).
func TestParallelSharedGrads(t *testing.T) {
	type sized struct {
		cfg Config
		pos int
	}
	cfgs := map[string]sized{}
	for name, c := range variants() {
		cfgs[name] = sized{c, 7}
	}
	cfgs["toy_d_head_16"] = sized{toyConfig(), 7} // the attention fast path
	long := func(c Config) Config { c.NCtx = 300; return c }
	cfgs["toy_d_head_16/pos=300"] = sized{long(toyConfig()), 300}
	cfgs["ln_gelu/pos=300"] = sized{long(variants()["ln_gelu"]), 300}
	for name, sc := range cfgs {
		cfg, pos := sc.cfg, sc.pos
		m, _ := New(cfg)
		randomize(m, 41)
		if cfg.DModel == toyConfig().DModel {
			// randomize's scale saturates a 64-wide model (loss ≈ 80), where
			// float32 rounding differences grow to ~1e-4; a trained model's
			// weights are smaller.
			for i := range m.P.data {
				m.P.data[i] /= 3
			}
		}
		const batch = 3
		vocab := cfg.DVocab
		if cfg.DVocabOut > 0 {
			vocab = min(vocab, cfg.DVocabOut) // tokens double as targets
		}
		toks := toyBatch(batch, pos, vocab)
		targets, weights := NextTokenTargets(toks, batch, pos)
		ctx := context.Background()

		ws := m.NewWorkspace(batch, pos)
		if err := ws.Forward(ctx, toks, nil); err != nil {
			t.Fatal(err)
		}
		weights[pos+2] = 0 // runs of weighted rows of several lengths
		wantLoss := ws.Loss(targets, weights)
		want := m.NewGrads()
		if err := ws.Backward(want, nil); err != nil {
			t.Fatal(err)
		}
		p, err := m.NewParallel(batch, pos, 1, 1)
		if err != nil {
			t.Fatal(err)
		}
		g := m.NewGrads()
		loss, err := p.Step(ctx, toks, targets, weights, g)
		if err != nil {
			t.Fatal(err)
		}
		// The shard computes only the rows the loss weighs after the last
		// attention, and runs row-local backward products on those rows:
		// the loss and parameter gradients sum the same terms in other
		// groups.
		// lossTol, gradTol and actTol (relative to 1 + |value|) bound the
		// float32 rounding of different groupings of the same sums (a few
		// ulps of terms ≲ 10 over ≤ 900 rows, observed ≤ 5e-6) and of block
		// 0's q, k, v computed from the tables W_E·W_Q, W_pos·W_Q + b_Q
		// rather than from resid_pre 0.
		const lossTol, gradTol, actTol = 1e-6, 1e-5, 1e-5
		if math.Abs(loss-wantLoss) > lossTol {
			t.Errorf("%s: loss %v, plain workspace %v", name, loss, wantLoss)
		}
		for i := range g.data {
			if d := math.Abs(float64(g.data[i] - want.data[i])); d > gradTol*(1+math.Abs(float64(want.data[i]))) {
				t.Fatalf("%s: parameter gradient %d = %v, plain workspace %v", name, i, g.data[i], want.data[i])
			}
		}
		shard := p.Workspace(0)
		for _, n := range m.HookPoints() {
			want, ok := ws.Grad(n)
			if !ok {
				continue
			}
			got, ok := shard.Grad(n)
			if !ok && shard.foldsEmbedGrad() && (n == hooks.Embed() || n == hooks.PosEmbed() || n == hooks.ResidPre(0)) {
				continue // folded into W_E's and W_pos's gradients
			}
			if !ok {
				t.Fatalf("%s: shard has no gradient at %s", name, n)
			}
			for i := range want.Data {
				if g, w := float64(got.Data[i]), float64(want.Data[i]); math.Abs(g-w) > actTol*(1+math.Abs(w)) {
					t.Fatalf("%s: shard's gradient at %s [%d] = %v, plain workspace %v", name, n, i, g, w)
				}
			}
		}
		hs := hooks.NewSet().AddBackward(hooks.Embed(), func(*tensor.Tensor, hooks.Name) *tensor.Tensor { return nil })
		if err := shard.Backward(m.NewGrads(), hs); !errors.Is(err, errSharedGrads) {
			t.Errorf("%s: hooked backward on a shard: err %v, want %v", name, err, errSharedGrads)
		}
		p.Close()
	}
}
