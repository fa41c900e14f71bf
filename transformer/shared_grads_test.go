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
func TestParallelSharedGrads(t *testing.T) {
	cfgs := variants()
	cfgs["toy_d_head_16"] = toyConfig() // the attention fast path
	for name, cfg := range cfgs {
		m, _ := New(cfg)
		randomize(m, 41)
		if name == "toy_d_head_16" {
			// randomize's scale saturates a 64-wide model (loss ≈ 80), where
			// float32 rounding differences grow to ~1e-4; a trained model's
			// weights are smaller.
			for i := range m.P.data {
				m.P.data[i] /= 3
			}
		}
		const batch, pos = 3, 7
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
		// ulps of terms ≲ 10 over ≤ 21 rows, observed ≤ 5e-6) and of block
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
