package nn

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// bceRef is BCE in its textbook form, −t·log σ(z) − (1−t)·log(1 − σ(z)),
// in float64: only valid for moderate |z|.
func bceRef(z, tgt, w []float32) float64 {
	var s float64
	for i, v := range z {
		p := 1 / (1 + math.Exp(-float64(v)))
		l := -float64(tgt[i])*math.Log(p) - (1-float64(tgt[i]))*math.Log(1-p)
		if w != nil {
			l *= float64(w[i])
		}
		s += l
	}
	return s / float64(len(z))
}

func TestBCEWithLogits(t *testing.T) {
	for k, n := range []int{1, 5, 40} {
		seed := uint64(k + 1)
		rng := rand.New(rand.NewPCG(seed, seed))
		z, tgt, w := randNormal(rng, n), make([]float32, n), make([]float32, n)
		for i := range tgt {
			tgt[i], w[i] = rng.Float32(), rng.Float32()*2
		}
		for _, weights := range [][]float32{nil, w} {
			got := BCEWithLogitsForward(z, tgt, weights)
			if want := bceRef(z, tgt, weights); relErr(got, want) > forwardTol {
				t.Errorf("seed %d: loss %v, want %v", seed, got, want)
			}
			dz := randNormal(rng, n)
			dz0 := slices.Clone(dz)
			BCEWithLogitsBackward(dz, z, tgt, weights, 2)
			checkGrad(t, seed, "z", z, added(dz, dz0), func() float64 {
				return 2 * BCEWithLogitsForward(z, tgt, weights)
			}, smoothGradTol)
		}
	}
	// Stable at large logits, where log σ would overflow or round to 0.
	if got := BCEWithLogitsForward([]float32{100, -100}, []float32{0, 1}, nil); math.Abs(got-100) > 1e-9 {
		t.Errorf("BCE at ±100 logits = %v, want 100", got)
	}
	if got := BCEWithLogitsForward([]float32{-40}, []float32{0}, nil); got <= 0 || got > 1e-17 {
		t.Errorf("BCE(-40, 0) = %v, want e^-40 ≈ 4e-18", got)
	}
	wantShapePanic(t, "short targets", func() { BCEWithLogitsForward([]float32{1, 2}, []float32{1}, nil) })
}

func TestGANLosses(t *testing.T) {
	const seed = 3
	rng := rand.New(rand.NewPCG(seed, seed))
	real, fake := randNormal(rng, 7), randNormal(rng, 5)
	ones, zeros := []float32{1, 1, 1, 1, 1, 1, 1}, make([]float32, 5)
	tests := []struct {
		name  string
		loss  func(dReal, dFake []float32, scale float32) float64
		ref   float64 // the same loss from BCE or by hand
		usesR bool
	}{
		{"discriminator", func(dr, df []float32, s float32) float64 { return GANDiscriminatorLoss(dr, df, real, fake, s) },
			BCEWithLogitsForward(real, ones, nil) + BCEWithLogitsForward(fake, zeros, nil), true},
		{"minimax", func(_, df []float32, s float32) float64 { return GANMinimaxGeneratorLoss(df, fake, s) },
			-BCEWithLogitsForward(fake, zeros, nil), false}, // log(1−σ) = −BCE(·, 0)
		{"non-saturating", func(_, df []float32, s float32) float64 { return GANNonSaturatingGeneratorLoss(df, fake, s) },
			BCEWithLogitsForward(fake, ones[:5], nil), false},
		{"wasserstein critic", func(dr, df []float32, s float32) float64 { return WassersteinCriticLoss(dr, df, real, fake, s) },
			meanOf(fake) - meanOf(real), true},
		{"wasserstein generator", func(_, df []float32, s float32) float64 { return WassersteinGeneratorLoss(df, fake, s) },
			-meanOf(fake), false},
	}
	for _, tt := range tests {
		if got := tt.loss(nil, nil, 1); relErr(got, tt.ref) > forwardTol {
			t.Errorf("%s: loss %v, want %v", tt.name, got, tt.ref)
		}
		dr, df := make([]float32, len(real)), make([]float32, len(fake))
		tt.loss(dr, df, 3)
		f := func() float64 { return 3 * tt.loss(nil, nil, 1) }
		checkGrad(t, seed, tt.name+" fake", fake, To64(df), f, smoothGradTol)
		if tt.usesR {
			checkGrad(t, seed, tt.name+" real", real, To64(dr), f, smoothGradTol)
		}
	}

	// The minimax generator gradient vanishes where the discriminator
	// rejects fakes confidently; the non-saturating one does not.
	rejected := []float32{-10}
	dMin, dNS := []float32{0}, []float32{0}
	GANMinimaxGeneratorLoss(dMin, rejected, 1)
	GANNonSaturatingGeneratorLoss(dNS, rejected, 1)
	if math.Abs(float64(dMin[0])) > 1e-4 || math.Abs(float64(dNS[0])+1) > 1e-4 {
		t.Errorf("at logit −10: minimax gradient %v (want ≈ 0), non-saturating %v (want ≈ −1)", dMin[0], dNS[0])
	}

	w := []float32{-0.5, 0.005, 0.02, float32(math.NaN())}
	ClipWeights(w, 0.01)
	if w[0] != -0.01 || w[1] != 0.005 || w[2] != 0.01 || w[3] == w[3] {
		t.Errorf("ClipWeights = %v", w)
	}
}

func meanOf(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v)
	}
	return s / float64(len(x))
}
