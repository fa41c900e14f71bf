package cnn

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mechinterp/workbench/tensor"
)

// bnStatTol is the float32 rounding of a mean or variance computed by the
// BatchNorm kernel (float32 blocks summed in float64) against the float64
// moments of BatchNormStats, relative to max(1, value).
const bnStatTol = 1e-5

func TestBatchNormStats(t *testing.T) {
	for name, c := range tinyConfigs() {
		t.Run(name, func(t *testing.T) {
			m := mustNew(t, c)
			rng := rand.New(rand.NewPCG(c.Seed, 8))
			const n = 5
			x, _ := randomBatch(m, rng, n)
			images := tensor.FromSlice(x, n, c.InC, c.InH, c.InW)
			buffers := slices.Clone(m.Buffers.Data())

			ws := m.NewWorkspace(n)
			if err := ws.Forward(ctx, x, Pass{Train: true, RNG: rng}, nil); err != nil {
				t.Fatal(err)
			}
			stats := ws.BatchNormStats()
			sites := bnSites(m.net, ws.act, nil)
			if len(stats) != len(sites) {
				t.Fatalf("%d stats for %d BatchNorm layers", len(stats), len(sites))
			}
			for i, st := range stats {
				s := sites[i]
				if st.Layer != s.l.name || !st.Train {
					t.Errorf("stat %d: layer %q (train %v), want %q in training", i, st.Layer, st.Train, s.l.name)
				}
				shape, ok := m.PointShape(st.Input)
				if !ok || shape[0] != s.l.in.C {
					t.Errorf("%s: input point %q of shape %v, want %d channels", st.Layer, st.Input, shape, s.l.in.C)
				}
				for ch := range s.l.in.C {
					// The kernel's own batch statistics, what training normalised with.
					closeTo(t, st.Layer+" batch mean", st.BatchMean[ch], float64(s.a.mean[ch]), bnStatTol)
					closeTo(t, st.Layer+" batch var", st.BatchVar[ch], float64(s.a.variance[ch]), bnStatTol)
					// x̂ of a training pass: mean 0, variance σ²/(σ² + ε).
					closeTo(t, st.Layer+" x̂ mean", st.NormMean[ch], 0, bnStatTol)
					closeTo(t, st.Layer+" x̂ var", st.NormVar[ch], st.BatchVar[ch]/(st.BatchVar[ch]+m.Cfg.BNEps), bnStatTol)
				}
				if !slices.Equal(st.RunningVar, widen(m.Buffers.view(s.l.rv))) || !slices.Equal(st.Gamma, widen(m.P.view(s.l.w))) {
					t.Errorf("%s: running variance or γ differ from the model's", st.Layer)
				}
			}

			// In evaluation, with running statistics equal to this batch's,
			// x̂ is normalised again.
			for i, st := range stats {
				copy(m.Buffers.view(sites[i].l.rm), toF32(st.BatchMean))
				copy(m.Buffers.view(sites[i].l.rv), toF32(st.BatchVar))
			}
			eval, err := m.BatchNormStats(ctx, images, Pass{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if eval[0].Train {
				t.Errorf("an evaluation pass reports batch statistics")
			}
			// Only the first layer sees the same input in both modes.
			for ch, v := range eval[0].NormMean {
				closeTo(t, "eval x̂ mean", v, 0, bnStatTol)
				closeTo(t, "eval x̂ var", eval[0].NormVar[ch], stats[0].NormVar[ch], bnStatTol)
			}
			copy(m.Buffers.Data(), buffers)
			if _, err := m.BatchNormStats(ctx, images, Pass{Train: true, RNG: rng}, nil); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(m.Buffers.Data(), buffers) {
				t.Errorf("BatchNormStats in training mode changed the running statistics")
			}
		})
	}
}

func TestBatchNormStatsInputs(t *testing.T) {
	m := mustNew(t, ResNet(BlockBasic, 1, 1))
	want := map[string]string{
		"bn1":                   "conv1.hook_out",
		"layer1.0.bn2":          "layer1.0.conv2.hook_out",
		"layer2.0.bn1":          "layer2.0.conv1.hook_out",
		"layer2.0.downsample.1": "layer2.0.downsample.0.hook_out",
	}
	stats, err := m.BatchNormStats(ctx, tensor.New(2, 1, 28, 28), Pass{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, st := range stats {
		if w, ok := want[st.Layer]; ok {
			seen++
			if string(st.Input) != w {
				t.Errorf("%s normalises %q, want %q", st.Layer, st.Input, w)
			}
		}
	}
	if seen != len(want) || len(stats) != 6 {
		t.Errorf("%d BatchNorm layers, %d of the expected seen; want 6 and %d", len(stats), seen, len(want))
	}
	if _, err := m.BatchNormStats(ctx, tensor.New(2, 1, 28, 27), Pass{}, nil); err == nil {
		t.Errorf("a batch of 28×27 images: no error")
	}
}

func closeTo(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol*math.Max(1, math.Abs(want)) {
		t.Errorf("%s: got %.8g, want %.8g (tolerance %.0e)", what, got, want, tol)
	}
}

func toF32(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}
