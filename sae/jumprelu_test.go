package sae

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestJumpReLUGradients checks a JumpReLU step's gradients: the encoder's
// and decoder's against central differences of lossRef with the firing
// set held (the L0 term is then constant), and the thresholds' against the
// straight-through estimator written out independently: with the rectangle
// kernel of bandwidth ε, each (row, feature) whose pre-activation lies
// within ε/2 of its threshold θ adds −θ/ε·∂L/∂f − λ/(Bε), ∂L/∂f taken by
// central differences of the reconstruction loss in f.
func TestJumpReLUGradients(t *testing.T) {
	const B, d, n = 6, 5, 9
	const lambda, eps = 0.05, 0.4
	s, err := New(Config{DIn: d, DSAE: n, Activation: JumpReLU}, 1)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(4, 5))
	for i := range s.BEnc {
		s.BEnc[i] = float32(0.1 * rng.NormFloat64())
	}
	for i := range s.BDec {
		s.BDec[i] = float32(0.1 * rng.NormFloat64())
	}
	for i := range s.Threshold {
		s.Threshold[i] = float32(0.1 + 0.4*rng.Float64())
	}
	tr, err := NewTrainer(s, TrainConfig{Batch: B, LR: 1e-3, L0: lambda, Bandwidth: eps})
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, B*d)
	x64 := make([]float64, len(x))
	for i := range x {
		x[i] = float32(rng.NormFloat64())
		x64[i] = float64(x[i])
	}
	st := tr.Gradients(x, nil)
	active := make([]bool, len(tr.f))
	nActive := 0
	for i, v := range tr.f {
		active[i] = v != 0
		if active[i] {
			nActive++
		}
	}
	if nActive == 0 || nActive == len(active) {
		t.Fatalf("%d of %d entries active: no test", nActive, len(active))
	}
	if want := lossRef(s, x64, B, 0, active) + lambda*float64(nActive)/B; math.Abs(st.Loss-want) > 1e-4*(1+want) {
		t.Errorf("loss %g, want MSE + λ·L0 = %g", st.Loss, want)
	}
	for _, p := range []struct {
		name    string
		data, g []float32
	}{{"W_enc", s.WEnc, tr.gWEnc}, {"b_enc", s.BEnc, tr.gBEnc}, {"W_dec", s.WDec, tr.gWDec}, {"b_dec", s.BDec, tr.gBDec}} {
		for i := range p.data {
			old := p.data[i]
			const h = 1e-3
			p.data[i] = old + h
			up := lossRef(s, x64, B, 0, active)
			p.data[i] = old - h
			down := lossRef(s, x64, B, 0, active)
			p.data[i] = old
			fd := (up - down) / (2 * h)
			if math.Abs(float64(p.g[i])-fd) > 2e-3*(1+math.Abs(fd)) {
				t.Errorf("%s[%d]: gradient %g, central difference %g", p.name, i, p.g[i], fd)
			}
		}
	}
	// The reconstruction loss as a function of the codes f [B, n].
	recon := func(f []float64) float64 {
		var l float64
		for r := range B {
			for i := range d {
				xh := float64(s.BDec[i])
				for j := range n {
					xh += f[r*n+j] * float64(s.WDec[j*d+i])
				}
				l += (xh - x64[r*d+i]) * (xh - x64[r*d+i]) / B
			}
		}
		return l
	}
	f := make([]float64, len(tr.f))
	for i, v := range tr.f {
		f[i] = float64(v)
	}
	want := make([]float64, n)
	inWindow := 0
	for r := range B {
		for j := range n {
			i := r*n + j
			th := float64(s.Threshold[j])
			if math.Abs(float64(tr.pre[i])-th) >= eps/2 {
				continue
			}
			inWindow++
			const h = 1e-4
			old := f[i]
			f[i] = old + h
			up := recon(f)
			f[i] = old - h
			down := recon(f)
			f[i] = old
			want[j] += -th/eps*(up-down)/(2*h) - lambda/(B*eps)
		}
	}
	if inWindow == 0 {
		t.Fatal("no pre-activation within the kernel's window: no test of the thresholds")
	}
	for j := range n {
		if math.Abs(float64(tr.gTheta[j])-want[j]) > 1e-3*(1+math.Abs(want[j])) {
			t.Errorf("threshold %d: gradient %g, straight-through estimate %g", j, tr.gTheta[j], want[j])
		}
	}
}

// TestJumpReLUToy trains a JumpReLU dictionary on the toy features: it
// recovers them (MMCS > 0.9), its L0 penalty keeps the code sparse (L0
// near the true number of active features, 2.56), and the thresholds
// leave their initial value.
func TestJumpReLUToy(t *testing.T) {
	toy, err := NewToy(64, 32, 0.04, 1)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{DIn: 32, DSAE: 64, Activation: JumpReLU}, 1)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrainer(s, TrainConfig{Batch: 256, LR: 3e-3, L0: 0.01, Bandwidth: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 0x70e5))
	x := make([]float32, 256*32)
	var st Stats
	for range 3000 {
		toy.Fill(x, 256, rng)
		st = tr.Step(x, nil)
	}
	mmcs, _ := s.MMCS(toy.Dirs, toy.N)
	var meanTh float64
	for _, v := range s.Threshold {
		meanTh += float64(v) / 64
	}
	t.Logf("JumpReLU: MMCS %.3f, L0 %.2f, FVU %.3f, mean threshold %.3f", mmcs, st.L0, st.FVU, meanTh)
	if mmcs < 0.9 || st.L0 > 6 || st.FVU > 0.3 || meanTh < 0.01 {
		t.Errorf("JumpReLU on the toy: MMCS %.3f, L0 %.2f, FVU %.3f, mean threshold %.3f", mmcs, st.L0, st.FVU, meanTh)
	}
	if _, err := NewTrainer(s, TrainConfig{Batch: 8, LR: 1e-3}); err == nil {
		t.Error("a jumprelu trainer without an l0 coefficient and bandwidth accepted")
	}
}
