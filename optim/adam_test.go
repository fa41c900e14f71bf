package optim

import (
	"fmt"
	"math"
	"testing"
)

// refAdam is the documented algorithm of torch.optim.Adam (decoupled false)
// and torch.optim.AdamW (decoupled true) in float64, written from the
// pseudo-code: it returns the parameters and both moments after the first
// steps steps of pb.
func refAdam(pb problem, cfg AdamConfig, decoupled bool, steps int) (theta, m, v [][]float64) {
	theta, m, v = to64(pb.init), zeros64(pb.init), zeros64(pb.init)
	b1, b2, lambda := cfg.Beta1, cfg.Beta2, cfg.WeightDecay
	for t := 1; t <= steps; t++ {
		lr := pb.lrs[t-1]
		for i := range theta {
			for j := range theta[i] {
				g := float64(pb.grads[t-1][i][j])
				if pb.decay[i] && decoupled {
					theta[i][j] -= lr * lambda * theta[i][j]
				}
				if pb.decay[i] && !decoupled {
					g += lambda * theta[i][j]
				}
				m[i][j] = b1*m[i][j] + (1-b1)*g
				v[i][j] = b2*v[i][j] + (1-b2)*g*g
				mHat := m[i][j] / (1 - math.Pow(b1, float64(t)))
				vHat := v[i][j] / (1 - math.Pow(b2, float64(t)))
				theta[i][j] -= lr * mHat / (math.Sqrt(vHat) + cfg.Eps)
			}
		}
	}
	return theta, m, v
}

var adamCases = []struct {
	cfg       AdamConfig
	decoupled bool
	gradScale float64
}{
	{AdamConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}, false, 1},
	{AdamConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.1}, false, 1},
	{AdamConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.1}, true, 1},
	{AdamConfig{Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.5}, true, 1},
	// β1 = 0 and β1 = 0.3 take lerp's large-weight branch.
	{AdamConfig{Beta1: 0, Beta2: 0.99, Eps: 1e-8}, false, 1},
	{AdamConfig{Beta1: 0.3, Beta2: 0.5, Eps: 1e-8, WeightDecay: 0.2}, true, 1},
	// Gradients of order ε, so that ε matters.
	{AdamConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-3}, false, 1e-3},
	{AdamConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-3, WeightDecay: 0.01}, true, 1e-3},
}

func TestAdamMatchesReference(t *testing.T) {
	const steps = 8
	for ci, tc := range adamCases {
		seed := uint64(200 + ci)
		name := fmt.Sprintf("adamw=%v/%+v/grad=%g", tc.decoupled, tc.cfg, tc.gradScale)
		t.Run(name, func(t *testing.T) {
			pb := newProblem(seed, steps, tc.gradScale)
			ps, o := pb.start(t, adamCase(tc.cfg, tc.decoupled).new)
			state := stateMap(o.State())
			for s := 1; s <= steps; s++ {
				pb.run(o, ps, s-1, s)
				theta, m, v := refAdam(pb, tc.cfg, tc.decoupled, s)
				for i, p := range ps {
					what := fmt.Sprintf("seed %d step %d %s", seed, s, p.Name)
					checkClose(t, what+" data", p.Data, theta[i], refTol)
					checkClose(t, what+" m", state["adam.m/"+p.Name], m[i], refTol)
					checkClose(t, what+" v", state["adam.v/"+p.Name], v[i], refTol)
				}
			}
		})
	}
}

// TestAdamWDecoupled checks what separates AdamW from Adam: with λ = 0 the two
// are bit-identical; with λ > 0 AdamW's parameters differ from λ = 0 Adam's by
// exactly the decoupled shrink −γλθ (not normalised by √v), and only on Decay
// parameters, while Adam's L2 decay, which passes through the moments, gives
// a different result.
func TestAdamWDecoupled(t *testing.T) {
	const (
		seed = 7
		lr   = 0.05
		wd   = 0.3
		// diffTol: the difference of two float32 values of order 1 carries
		// their rounding (≈1e-7 absolute), which is ≈1e-5 relative to a
		// shrink of order lr·wd·|θ| ≈ 1e-2.
		diffTol = 1e-4
	)
	base := AdamConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}
	withWD := base
	withWD.WeightDecay = wd
	pb := newProblem(seed, 1, 1)
	pb.lrs[0] = lr

	step := func(cfg AdamConfig, decoupled bool) []Param {
		ps, o := pb.start(t, adamCase(cfg, decoupled).new)
		pb.run(o, ps, 0, 1)
		return ps
	}
	adam0, adamW0 := step(base, false), step(base, true)
	adamL2, adamW := step(withWD, false), step(withWD, true)
	for i := range adam0 {
		name := adam0[i].Name
		sameBits(t, name+": AdamW(λ=0) vs Adam(λ=0)", adamW0[i].Data, adam0[i].Data)
		if !adam0[i].Decay {
			sameBits(t, name+": AdamW(λ) vs Adam(λ=0) on a no-decay param", adamW[i].Data, adam0[i].Data)
			sameBits(t, name+": Adam(λ) vs Adam(λ=0) on a no-decay param", adamL2[i].Data, adam0[i].Data)
			continue
		}
		diff := make([]float32, len(adamW[i].Data))
		want := make([]float64, len(diff))
		differs := false
		for j := range diff {
			diff[j] = adamW[i].Data[j] - adam0[i].Data[j]
			want[j] = -lr * wd * float64(pb.init[i][j])
			differs = differs || adamL2[i].Data[j] != adamW[i].Data[j]
		}
		checkClose(t, fmt.Sprintf("seed %d %s: AdamW(λ) − Adam(λ=0)", seed, name), diff, want, diffTol)
		if !differs {
			t.Errorf("seed %d %s: Adam with L2 decay equals AdamW", seed, name)
		}
	}
}

func TestNewAdamErrors(t *testing.T) {
	ok := []Param{{Name: "W", Data: make([]float32, 2), Grad: make([]float32, 2)}}
	good := AdamConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}
	with := func(f func(*AdamConfig)) AdamConfig { c := good; f(&c); return c }
	tests := []struct {
		name   string
		params []Param
		cfg    AdamConfig
	}{
		{"beta1 = 1", ok, with(func(c *AdamConfig) { c.Beta1 = 1 })},
		{"beta2 < 0", ok, with(func(c *AdamConfig) { c.Beta2 = -0.1 })},
		{"beta1 NaN", ok, with(func(c *AdamConfig) { c.Beta1 = nan() })},
		{"eps = 0", ok, with(func(c *AdamConfig) { c.Eps = 0 })},
		{"eps Inf", ok, with(func(c *AdamConfig) { c.Eps = math.Inf(1) })},
		{"negative weight decay", ok, with(func(c *AdamConfig) { c.WeightDecay = -1 })},
		{"grad length", []Param{{Name: "W", Data: make([]float32, 2)}}, good},
		{"duplicate name", append(ok, ok[0]), good},
	}
	for _, tt := range tests {
		for _, decoupled := range []bool{false, true} {
			if _, err := newAdam(tt.params, tt.cfg, decoupled); !isConfigErr(err) {
				t.Errorf("%s: adamw=%v: error = %v, want ErrConfig", tt.name, decoupled, err)
			}
		}
	}
}

func BenchmarkAdamW(b *testing.B) {
	for _, sizes := range [][]int{{256 * 256, 256, 34208}} {
		n := 0
		for _, s := range sizes {
			n += s
		}
		b.Run(fmt.Sprintf("params=%d", n), func(b *testing.B) {
			ps := make([]Param, len(sizes))
			for i, s := range sizes {
				ps[i] = Param{Name: fmt.Sprint("W_", i), Data: make([]float32, s), Grad: make([]float32, s), Decay: i != 1}
				for j := range ps[i].Grad {
					ps[i].Data[j] = float32(j%7) - 3
					ps[i].Grad[j] = float32(j%5) - 2
				}
			}
			o, err := NewAdamW(ps, AdamConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.1})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			iters := 0
			for b.Loop() {
				o.Step(1e-4)
				iters++
			}
			b.ReportMetric(float64(n)*float64(iters)/b.Elapsed().Seconds(), "params/s")
		})
	}
}
