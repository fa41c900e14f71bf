package data_test

import (
	"math"
	"testing"

	"github.com/mechinterp/workbench/data"
)

func TestMixtureCentres(t *testing.T) {
	ring := data.Ring8()
	if len(ring.Centres) != 8 || ring.Sigma != 0.02 {
		t.Fatalf("Ring8: %d centres, σ %g; want 8, 0.02", len(ring.Centres), ring.Sigma)
	}
	for k, c := range ring.Centres {
		if r := math.Hypot(c[0], c[1]); math.Abs(r-2) > 1e-12 {
			t.Errorf("Ring8 centre %d %v at radius %g, want 2", k, c, r)
		}
		if a := math.Atan2(c[1], c[0]); math.Abs(math.Remainder(a-float64(k)*math.Pi/4, 2*math.Pi)) > 1e-12 {
			t.Errorf("Ring8 centre %d %v at angle %g, want %g", k, c, a, float64(k)*math.Pi/4)
		}
	}
	grid := data.Grid25()
	if len(grid.Centres) != 25 || grid.Sigma != 0.05 {
		t.Fatalf("Grid25: %d centres, σ %g; want 25, 0.05", len(grid.Centres), grid.Sigma)
	}
	seen := map[[2]float64]bool{}
	for _, c := range grid.Centres {
		for _, v := range c {
			if v != -4 && v != -2 && v != 0 && v != 2 && v != 4 {
				t.Errorf("Grid25 centre %v not on {−4, −2, 0, 2, 4}²", c)
			}
		}
		seen[c] = true
	}
	if len(seen) != 25 {
		t.Errorf("Grid25 has %d distinct centres, want 25", len(seen))
	}
}

func TestMixtureSample(t *testing.T) {
	// Sample means, standard deviations and mode frequencies. With n/K ≈ 800
	// samples per mode the standard error of a mode mean is σ/28, so 0.2σ is
	// about six standard errors; mode counts have standard deviation ≈ 27.
	const n, seed = 20000, 42
	for _, tt := range []struct {
		name string
		m    data.Mixture
	}{{"ring8", data.Ring8()}, {"grid25", data.Grid25()}} {
		m := tt.m
		k := len(m.Centres)
		pts := make([]float32, 2*n)
		m.Sample(pts, n, newRNG(seed))
		count := make([]int, k)
		sum := make([][2]float64, k)
		sq := make([]float64, k)
		for i := range n {
			x, y := float64(pts[2*i]), float64(pts[2*i+1])
			mode, d := m.Nearest(x, y)
			if d > 6*m.Sigma {
				t.Fatalf("%s seed %d: sample %d (%g, %g) is %gσ from its nearest mode", tt.name, seed, i, x, y, d/m.Sigma)
			}
			count[mode]++
			sum[mode][0] += x
			sum[mode][1] += y
			sq[mode] += d * d
		}
		for j, c := range m.Centres {
			cnt := float64(count[j])
			if want := float64(n) / float64(k); math.Abs(cnt-want) > 0.15*want {
				t.Errorf("%s seed %d: mode %d drew %d samples, want ≈%g", tt.name, seed, j, count[j], want)
			}
			mx, my := sum[j][0]/cnt, sum[j][1]/cnt
			if math.Hypot(mx-c[0], my-c[1]) > 0.2*m.Sigma {
				t.Errorf("%s seed %d: mode %d sample mean (%g, %g), want ≈ %v", tt.name, seed, j, mx, my, c)
			}
			// E[d²] = 2σ² for an isotropic 2-D Gaussian.
			if s := math.Sqrt(sq[j] / (2 * cnt)); math.Abs(s-m.Sigma) > 0.1*m.Sigma {
				t.Errorf("%s seed %d: mode %d σ estimate %g, want %g", tt.name, seed, j, s, m.Sigma)
			}
		}
	}
}

func TestMixtureNearest(t *testing.T) {
	g := data.Grid25()
	tests := []struct {
		x, y     float64
		wantMode int
		wantDist float64
	}{
		{-4, -4, 0, 0},
		{4, 4, 24, 0},
		{0.9, 0, 12, 0.9},
		{-4, 2.5, 3, 0.5}, // i=0 (x=−4), j=3 (y=2)
	}
	for _, tt := range tests {
		mode, d := g.Nearest(tt.x, tt.y)
		if mode != tt.wantMode || math.Abs(d-tt.wantDist) > 1e-12 {
			t.Errorf("Grid25().Nearest(%g, %g) = %d, %g; want %d, %g", tt.x, tt.y, mode, d, tt.wantMode, tt.wantDist)
		}
	}
}
