package main

import (
	"math"
	"math/rand/v2"
	"testing"
)

// exactTol bounds float64 rounding in sums over a handful of terms.
const exactTol = 1e-12

func TestInformationQuantities(t *testing.T) {
	for _, tc := range []struct {
		name       string
		p, q       []float64
		h, ce, kld float64
	}{
		{"fair coin coded as fair", []float64{0.5, 0.5}, []float64{0.5, 0.5}, 1, 1, 0},
		{"fair coin coded as 1/4,3/4", []float64{0.5, 0.5}, []float64{0.25, 0.75}, 1, 1 - 0.5*math.Log2(0.75), 0.5*math.Log2(2) + 0.5*math.Log2(0.5/0.75)},
		{"certain outcome", []float64{1, 0}, []float64{0.5, 0.5}, 0, 1, 1},
		{"uniform over 8", uniform(8), uniform(8), 3, 3, 0},
	} {
		if got := entropy(tc.p); math.Abs(got-tc.h) > exactTol {
			t.Errorf("%s: H(%v) = %v, want %v", tc.name, tc.p, got, tc.h)
		}
		if got := crossEntropy(tc.p, tc.q); math.Abs(got-tc.ce) > exactTol {
			t.Errorf("%s: CE(%v, %v) = %v, want %v", tc.name, tc.p, tc.q, got, tc.ce)
		}
		if got := kl(tc.p, tc.q); math.Abs(got-tc.kld) > exactTol {
			t.Errorf("%s: KL(%v‖%v) = %v, want %v", tc.name, tc.p, tc.q, got, tc.kld)
		}
	}
}

func TestSamplerFrequencies(t *testing.T) {
	const seed, n = 3, 200_000
	rng := rand.New(rand.NewPCG(seed, seed))
	p := randomDist(rng, 7, 1)
	_, f := empirical(rng, p, n)
	for i := range p {
		// 5 binomial standard deviations.
		if tol := 5 * math.Sqrt(p[i]*(1-p[i])/n); math.Abs(f[i]-p[i]) > tol {
			t.Errorf("seed %d: frequency of %d = %.4f, want %.4f ± %.4f", seed, i, f[i], p[i], tol)
		}
	}
}

func TestKellyIsOptimal(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	p, q := randomDist(rng, 6, 1), randomDist(rng, 6, 1)
	best := doublingRate(p, q, p)
	if math.Abs(best-kl(p, q)) > exactTol {
		t.Errorf("Kelly rate %v, want KL(p‖q) = %v", best, kl(p, q))
	}
	for range 1000 {
		b := randomDist(rng, 6, 2)
		if w := doublingRate(p, q, b); w > best+exactTol {
			t.Fatalf("belief %v beats Kelly: %v > %v", b, w, best)
		}
	}
}

func TestFitReachesFrequencies(t *testing.T) {
	freq := []float64{0.5, 0.3, 0.2}
	q, log := fitCategorical(freq, 1, 500, []int{0, 500})
	for i := range q {
		if math.Abs(q[i]-freq[i]) > 1e-6 {
			t.Errorf("q = %v, want %v", q, freq)
			break
		}
	}
	if log[0].KL <= log[1].KL {
		t.Errorf("KL did not fall: %v", log)
	}
}
