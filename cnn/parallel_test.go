package cnn

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestParallelDeterministic checks that a data-parallel step is bit-identical
// for any worker count, and that with one shard it equals a single
// workspace's forward, backward and running-statistics update.
func TestParallelDeterministic(t *testing.T) {
	for name, c := range tinyConfigs() {
		t.Run(name, func(t *testing.T) {
			const batch, shards, steps = 6, 3, 3
			rng := rand.New(rand.NewPCG(c.Seed, 8))
			base := mustNew(t, c)
			xs, ys := make([][]float32, steps), make([][]int32, steps)
			for s := range steps {
				xs[s], ys[s] = randomBatch(base, rng, batch)
			}
			run := func(workers int) (*Model, []float32, []float64) {
				m := base.Clone()
				p, err := m.NewParallel(batch, shards, workers)
				if err != nil {
					t.Fatal(err)
				}
				defer p.Close()
				g := m.NewGrads()
				var losses []float64
				for s := range steps {
					l, err := p.Step(ctx, xs[s], ys[s], uint64(s), g)
					if err != nil {
						t.Fatal(err)
					}
					losses = append(losses, l)
					for i, v := range g.Data() { // a plain SGD step
						m.P.Data()[i] -= 0.1 * v
					}
				}
				return m, g.Data(), losses
			}
			m1, g1, l1 := run(1)
			m3, g3, l3 := run(3)
			if !slices.Equal(m1.P.Data(), m3.P.Data()) || !slices.Equal(g1, g3) || !slices.Equal(l1, l3) ||
				!slices.Equal(m1.Buffers.Data(), m3.Buffers.Data()) {
				t.Error("1 and 3 workers differ")
			}

			// One shard equals a workspace.
			m := base.Clone()
			p, err := m.NewParallel(batch, 1, 2)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			g := m.NewGrads()
			loss, err := p.Step(ctx, xs[0], ys[0], 5, g)
			if err != nil {
				t.Fatal(err)
			}
			w := base.Clone()
			ws := w.NewWorkspace(batch)
			if err := ws.Forward(ctx, xs[0], Pass{Train: true, RNG: rand.New(rand.NewPCG(5, ShardSeed(0)))}, nil); err != nil {
				t.Fatal(err)
			}
			wl, _ := ws.Loss(ys[0])
			wg := w.NewGrads()
			if err := ws.Backward(wg, nil); err != nil {
				t.Fatal(err)
			}
			if err := ws.UpdateRunningStats(); err != nil {
				t.Fatal(err)
			}
			if loss != wl || !slices.Equal(g.Data(), wg.Data()) {
				t.Error("one shard differs from a workspace")
			}
			// Pooled running statistics agree with a single full batch up
			// to float32 rounding of the shard statistics.
			for i, v := range w.Buffers.Data() {
				if math.Abs(float64(v-m.Buffers.Data()[i])) > 1e-5*math.Max(1, math.Abs(float64(v))) {
					t.Errorf("running statistic %d: parallel %v, workspace %v", i, m.Buffers.Data()[i], v)
					break
				}
			}
		})
	}
}

// TestPooledRunningStats checks the pooling of shard statistics: three
// shards give the running statistics of one full-batch pass.
func TestPooledRunningStats(t *testing.T) {
	c := tinyConfigs()["resnet-bottleneck"]
	base := mustNew(t, c)
	rng := rand.New(rand.NewPCG(3, 3))
	x, y := randomBatch(base, rng, 7)
	m := base.Clone()
	p, err := m.NewParallel(7, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.Step(ctx, x, y, 0, m.NewGrads()); err != nil {
		t.Fatal(err)
	}
	// The shards see different statistics, so compare only the first
	// BatchNorm, whose input (conv1 of the raw images) does not depend on
	// the shard's normalisation.
	w := base.Clone()
	ws := w.NewWorkspace(7)
	if err := ws.Forward(ctx, x, Pass{Train: true}, nil); err != nil {
		t.Fatal(err)
	}
	if err := ws.UpdateRunningStats(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"bn1.running_mean", "bn1.running_var"} {
		got, _, _ := m.Buffers.Get(name)
		want, _, _ := w.Buffers.Get(name)
		for i := range want {
			if math.Abs(float64(got[i]-want[i])) > 1e-5 {
				t.Errorf("%s[%d]: pooled %v, full batch %v", name, i, got[i], want[i])
			}
		}
	}
}

func TestStepAllocatesNothing(t *testing.T) {
	m := mustNew(t, Classifier())
	rng := rand.New(rand.NewPCG(1, 1))
	x, y := randomBatch(m, rng, 8)
	p, err := m.NewParallel(8, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	g := m.NewGrads()
	if allocs := testing.AllocsPerRun(3, func() {
		if _, err := p.Step(ctx, x, y, 1, g); err != nil {
			t.Fatal(err)
		}
	}); allocs != 0 {
		t.Errorf("parallel step: %v allocations, want 0", allocs)
	}
	ws := m.NewWorkspace(4)
	ws.Forward(ctx, x[:4*28*28], Pass{}, nil) // lay out the gradients once
	ws.Loss(y[:4])
	ws.Backward(g, nil)
	if allocs := testing.AllocsPerRun(3, func() {
		ws.Forward(ctx, x[:4*28*28], Pass{}, nil)
		ws.Loss(y[:4])
		ws.Backward(g, nil)
	}); allocs != 0 {
		t.Errorf("workspace forward+backward: %v allocations, want 0", allocs)
	}
}

func TestParallelErrors(t *testing.T) {
	m := mustNew(t, tinyConfigs()["cnn"])
	if _, err := m.NewParallel(0, 1, 1); err == nil {
		t.Error("batch 0 accepted")
	}
	p, err := m.NewParallel(4, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	x, y := randomBatch(m, rand.New(rand.NewPCG(1, 1)), 4)
	if _, err := p.Step(ctx, x[1:], y, 0, m.NewGrads()); err == nil {
		t.Error("short images accepted")
	}
	y[2] = 7
	if _, err := p.Step(ctx, x, y, 0, m.NewGrads()); err == nil {
		t.Error("label 7 of 3 classes accepted")
	}
}

// TestTrainingFitsABatch checks that every architecture can fit a small
// fixed batch with plain SGD: training, not only gradients, works end to end.
func TestTrainingFitsABatch(t *testing.T) {
	for name, c := range tinyConfigs() {
		t.Run(name, func(t *testing.T) {
			c.Dropout = 0
			m := mustNew(t, c)
			rng := rand.New(rand.NewPCG(c.Seed, 21))
			x, y := randomBatch(m, rng, 8)
			p, err := m.NewParallel(8, 2, 2)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			g := m.NewGrads()
			var first, last float64
			for s := range 60 {
				l, err := p.Step(ctx, x, y, uint64(s), g)
				if err != nil {
					t.Fatal(err)
				}
				if s == 0 {
					first = l
				}
				last = l
				for i, v := range g.Data() {
					m.P.Data()[i] -= 0.1 * v
				}
			}
			// Random labels on noise with two to four channels per layer: a
			// halving in 60 steps is slow for these widths, zero progress a bug.
			if !(last < first/2) {
				t.Errorf("loss %v after 60 steps, from %v: want half or less", last, first)
			}
		})
	}
}
