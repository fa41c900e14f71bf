package cnn

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
)

// BenchmarkConv times the Fashion-MNIST classifier (Classifier():
// conv16–BN–pool–conv32–BN–pool–FC10) at batch 128 in training mode on one
// workspace (one core): the forward pass alone, the backward pass alone,
// and a whole data-parallel step (forward + backward over 2 shards on as
// many workers as GOMAXPROCS), reporting images/s.
func BenchmarkConv(b *testing.B) {
	const batch = 128
	m := mustNew(b, Classifier())
	rng := rand.New(rand.NewPCG(1, 1))
	x, y := randomBatch(m, rng, batch)
	ws := m.NewWorkspace(batch)
	g := m.NewGrads()
	pass := Pass{Train: true, RNG: rng}
	if err := ws.Forward(ctx, x, pass, nil); err != nil {
		b.Fatal(err)
	}
	if _, err := ws.Loss(y); err != nil {
		b.Fatal(err)
	}
	if err := ws.Backward(g, nil); err != nil { // lay out the gradients
		b.Fatal(err)
	}
	report := func(b *testing.B) {
		b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "images/s")
	}
	name := fmt.Sprintf("batch=%d", batch)
	b.Run(name+"/forward", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ws.Forward(ctx, x, pass, nil)
		}
		report(b)
	})
	b.Run(name+"/backward", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ws.Backward(g, nil)
		}
		report(b)
	})
	b.Run(name+"/forward-hooked", func(b *testing.B) {
		// Every point has a hook that does nothing: the cost of the hook
		// machinery itself.
		hs := hooks.NewSet().AddMatch(hooks.All, func(*tensor.Tensor, hooks.Name) *tensor.Tensor { return nil })
		for b.Loop() {
			ws.Forward(ctx, x, pass, hs)
		}
		report(b)
	})
	b.Run(name+"/step-parallel", func(b *testing.B) {
		p, err := m.NewParallel(batch, 2, 2)
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		b.ReportAllocs()
		for b.Loop() {
			p.Step(ctx, x, y, 1, g)
		}
		report(b)
	})
}
