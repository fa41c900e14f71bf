package transformer

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
)

// TestParallelSharedGrads checks that a Parallel shard, whose copy-only
// activation gradients share buffers (shareCopyGrads), leaves every
// gradient Grad reports bit-identical to a plain workspace's, and refuses
// backward hooks.
func TestParallelSharedGrads(t *testing.T) {
	for name, cfg := range variants() {
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
		ws.Loss(targets, weights)
		if err := ws.Backward(m.NewGrads(), nil); err != nil {
			t.Fatal(err)
		}
		p, err := m.NewParallel(batch, pos, 1, 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Step(ctx, toks, targets, weights, m.NewGrads()); err != nil {
			t.Fatal(err)
		}
		shard := p.Workspace(0)
		for _, n := range m.HookPoints() {
			want, ok := ws.Grad(n)
			if !ok {
				continue
			}
			got, ok := shard.Grad(n)
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
