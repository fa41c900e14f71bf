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
// workspace: the same loss and parameter gradients, every activation
// gradient Grad reports bit-identical although copy-only ones share
// buffers (shareCopyGrads), only weighted rows are computed where they can
// be (forwardRows, backwardRows) and the embeddings' gradients are folded
// (foldEmbedGrad, which leaves three points without one), and backward
// hooks refused.
func TestParallelSharedGrads(t *testing.T) {
	cfgs := variants()
	cfgs["toy_d_head_16"] = toyConfig() // the attention fast path
	for name, cfg := range cfgs {
		m, _ := New(cfg)
		randomize(m, 41)
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
		const lossTol, gradTol = 1e-6, 1e-5
		if math.Abs(loss-wantLoss) > lossTol {
			t.Errorf("%s: loss %v, plain workspace %v", name, loss, wantLoss)
		}
		for i := range g.data {
			if math.Abs(float64(g.data[i]-want.data[i])) > gradTol {
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
				if math.Float32bits(got.Data[i]) != math.Float32bits(want.Data[i]) {
					t.Fatalf("%s: shard's gradient at %s [%d] = %v, plain workspace %v", name, n, i, got.Data[i], want.Data[i])
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
