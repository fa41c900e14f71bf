package transformer

import (
	"context"
	"math"
	"testing"
)

// TestParallelMatchesSerialAndIgnoresWorkerCount runs ln_gelu at 8
// positions and at 300 (past every attention tile and GEMM block).
func TestParallelMatchesSerialAndIgnoresWorkerCount(t *testing.T) {
	for _, pos := range []int{8, 300} {
		cfg := variants()["ln_gelu"]
		cfg.NCtx = max(cfg.NCtx, pos)
		parallelMatchesSerial(t, cfg, pos)
	}
}

// parallelMatchesSerial checks Parallel against a plain workspace at pos
// positions, for 1, 2 and 3 workers.
func parallelMatchesSerial(t *testing.T, cfg Config, pos int) {
	t.Helper()
	m, _ := New(cfg)
	randomize(m, 40)
	const batch = 6
	toks := toyBatch(batch, pos, 11)
	targets, weights := NextTokenTargets(toks, batch, pos)
	weights[3] = 0 // an uneven mask
	ctx := context.Background()

	ws := m.NewWorkspace(batch, pos)
	ws.Forward(ctx, toks, nil)
	wantLoss := ws.Loss(targets, weights)
	want := m.NewGrads()
	ws.Backward(want, nil)

	var ref *Params
	for _, workers := range []int{1, 2, 3} {
		p, err := m.NewParallel(batch, pos, 3, workers)
		if err != nil {
			t.Fatal(err)
		}
		g := m.NewGrads()
		loss, err := p.Step(ctx, toks, targets, weights, g)
		p.Close()
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(loss-wantLoss) > 1e-6 {
			t.Errorf("pos=%d workers=%d: loss %v, serial %v", pos, workers, loss, wantLoss)
		}
		const gradTol = 1e-5 // float32 rounding of a different summation order
		for i := range g.data {
			if math.Abs(float64(g.data[i]-want.data[i])) > gradTol {
				t.Fatalf("pos=%d workers=%d: grad %d = %v, serial %v", pos, workers, i, g.data[i], want.data[i])
			}
		}
		if ref == nil {
			ref = g
			continue
		}
		for i := range g.data {
			if math.Float32bits(g.data[i]) != math.Float32bits(ref.data[i]) {
				t.Fatalf("pos=%d workers=%d: gradient not bit-identical to workers=1 at %d", pos, workers, i)
			}
		}
	}
}

func TestParallelStepAllocatesNothing(t *testing.T) {
	m, _ := New(toyConfig())
	p, err := m.NewParallel(8, 10, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	toks := toyBatch(8, 10, 64)
	targets, weights := NextTokenTargets(toks, 8, 10)
	g := m.NewGrads()
	ctx := context.Background()
	p.Step(ctx, toks, targets, weights, g)
	if a := testing.AllocsPerRun(5, func() { p.Step(ctx, toks, targets, weights, g) }); a != 0 {
		t.Errorf("parallel step allocates %v times", a)
	}
}
