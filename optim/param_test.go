package optim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func TestDecayByName(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"embed.W_E", true},
		{"pos_embed.W_pos", true},
		{"blocks.0.attn.W_Q", true},
		{"blocks.11.attn.W_O", true},
		{"blocks.0.mlp.W_in", true},
		{"blocks.0.mlp.W_out", true},
		{"unembed.W_U", true},
		{"W_E", true},
		{"blocks.0.attn.b_Q", false},
		{"blocks.0.mlp.b_out", false},
		{"unembed.b_U", false},
		{"blocks.0.ln1.w", false},
		{"blocks.0.ln2.b", false},
		{"ln_final.w", false},
		{"bn1.weight", false},
		{"bn1.bias", false},
		{"W_E.b_in", false}, // only the last component counts
		{"", false},
	}
	for _, tt := range tests {
		if got := DecayByName(tt.name); got != tt.want {
			t.Errorf("DecayByName(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestDecayMask checks that weight decay touches Decay parameters only: with
// zero gradients every optimizer must leave a no-decay bias bit-identical and
// shrink the decayed weight.
func TestDecayMask(t *testing.T) {
	cases := []optCase{
		sgdCase(SGDConfig{WeightDecay: 0.1}),
		sgdCase(SGDConfig{Momentum: 0.9, Dampening: 0.2, WeightDecay: 0.1}),
		sgdCase(SGDConfig{Momentum: 0.9, Nesterov: true, WeightDecay: 0.1}),
		adamCase(AdamConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.1}, false),
		adamCase(AdamConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.1}, true),
	}
	const seed = 5
	rng := rand.New(rand.NewPCG(seed, seed))
	for _, oc := range cases {
		w := Param{Name: "blocks.0.attn.W_Q", Data: normals(rng, 8, 1), Grad: make([]float32, 8)}
		b := Param{Name: "blocks.0.attn.b_Q", Data: normals(rng, 4, 1), Grad: make([]float32, 4)}
		w.Decay, b.Decay = DecayByName(w.Name), DecayByName(b.Name)
		w0, b0 := append([]float32(nil), w.Data...), append([]float32(nil), b.Data...)
		o, err := oc.new([]Param{w, b})
		if err != nil {
			t.Fatal(err)
		}
		for range 5 {
			o.Step(0.1)
		}
		sameBits(t, fmt.Sprintf("seed %d %s: bias", seed, oc.name), b.Data, b0)
		for j := range w0 {
			if !(math.Abs(float64(w.Data[j])) < math.Abs(float64(w0[j]))) {
				t.Errorf("seed %d %s: weight[%d] = %v not shrunk from %v", seed, oc.name, j, w.Data[j], w0[j])
			}
		}
	}
}

func TestZeroGrad(t *testing.T) {
	ps := newProblem(6, 1, 1).params()
	for i, p := range ps {
		for j := range p.Grad {
			p.Grad[j] = float32(i + j + 1)
		}
	}
	ZeroGrad(ps)
	for _, p := range ps {
		for j, g := range p.Grad {
			if g != 0 {
				t.Fatalf("%s: grad[%d] = %v after ZeroGrad", p.Name, j, g)
			}
		}
	}
}

// normTol bounds the relative difference between ClipGradNorm's float64 norm
// and the reference's: both sum the same float64 squares, possibly grouped
// differently, so they agree to a few float64 ulps.
const normTol = 1e-12

// clippedTol bounds |‖g‖ − maxNorm| / maxNorm after clipping: the 1e-6 guard
// in the divisor shortens the result by 1e-6/‖g‖ relative (≤ 1e-6 here) and
// rounding the factor and each scaled element to float32 adds ≈1e-7.
const clippedTol = 1e-5

func TestClipGradNorm(t *testing.T) {
	const seed = 8
	tests := []struct {
		name      string
		gradScale float64 // gradient ~ N(0, gradScale²) per element
		maxNorm   float64
		poison    float64 // if non-zero, written into one gradient
	}{
		{"zero grads", 0, 1, 0},
		{"well below", 0.01, 1, 0},
		{"below", 0.1, 1, 0},
		{"above", 1, 1, 0},
		{"far above", 100, 0.5, 0},
		{"NaN grad", 1, 1, math.NaN()},
		{"Inf grad", 1, 1, math.Inf(1)},
	}
	for ti, tt := range tests {
		pb := newProblem(uint64(seed+ti), 1, tt.gradScale)
		ps := pb.params()
		for i, p := range ps {
			copy(p.Grad, pb.grads[0][i])
		}
		if tt.poison != 0 {
			ps[2].Grad[1] = float32(tt.poison)
		}
		before := make([][]float32, len(ps))
		var sumSq float64
		for i, p := range ps {
			before[i] = append([]float32(nil), p.Grad...)
			for _, g := range p.Grad {
				sumSq += float64(g) * float64(g)
			}
		}
		wantNorm := math.Sqrt(sumSq)

		got := ClipGradNorm(ps, tt.maxNorm)

		what := fmt.Sprintf("seed %d %s: ClipGradNorm(maxNorm=%v)", seed+ti, tt.name, tt.maxNorm)
		finite := !math.IsNaN(wantNorm) && !math.IsInf(wantNorm, 0)
		switch {
		case !finite:
			if !math.IsNaN(got) && got != wantNorm {
				t.Errorf("%s = %v, want %v", what, got, wantNorm)
			}
		case math.Abs(got-wantNorm) > normTol*wantNorm:
			t.Errorf("%s = %v, want %v", what, got, wantNorm)
		}
		coef := tt.maxNorm / (wantNorm + 1e-6)
		clipped := finite && coef < 1
		var after float64
		for i, p := range ps {
			want := before[i]
			if clipped {
				want = make([]float32, len(before[i]))
				for j, g := range before[i] {
					want[j] = float32(coef) * g
				}
			}
			sameBits(t, what+" "+p.Name, p.Grad, want)
			for _, g := range p.Grad {
				after += float64(g) * float64(g)
			}
		}
		if after = math.Sqrt(after); clipped && math.Abs(after-tt.maxNorm) > clippedTol*tt.maxNorm {
			t.Errorf("%s: clipped norm %v, want %v", what, after, tt.maxNorm)
		}
	}
}
