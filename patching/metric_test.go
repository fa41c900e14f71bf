package patching

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mechinterp/workbench/tensor"
	"gonum.org/v1/gonum/diff/fd"
)

// metricGradTol bounds |analytic − central difference| / max(1, |numeric|)
// for the metrics' gradients: the point is rounded to float32 logits, so
// the difference quotient carries ≈1e-7·|value|/step of rounding noise.
const metricGradTol = 1e-3

// metricGradStep is the central-difference step: truncation error O(step²)
// is negligible for these smooth functions of logits of order 1.
const metricGradStep = 1e-2

func TestMetricGradients(t *testing.T) {
	const B, P, V = 3, 4, 5
	rng := rand.New(rand.NewPCG(21, 21))
	targets := [][]int{{1, -1, 4, 0}, {-1, -1, -1, 2}, {3, 3, -1, -1}}
	for _, m := range []Metric{
		LogitDiff{Answer: []int{1, 2, 3}, Wrong: []int{0}, Pos: Last},
		LogitDiff{Answer: []int{4}, Wrong: []int{2}, Pos: 1},
		Prob{Answer: []int{0, 4, 2}, Pos: -2},
		Loss{Targets: targets},
	} {
		if err := m.Check(B, P, V); err != nil {
			t.Fatalf("%v: %v", m, err)
		}
		x := make([]float64, B*P*V)
		for i := range x {
			x[i] = rng.NormFloat64() * 2
		}
		value := func(x []float64) float64 {
			l := tensor.New(B, P, V)
			for i, v := range x {
				l.Data[i] = float32(v)
			}
			return m.Value(l)
		}
		numeric := make([]float64, len(x))
		fd.Gradient(numeric, value, x, &fd.Settings{Formula: fd.Central, Step: metricGradStep})
		l := tensor.New(B, P, V)
		for i, v := range x {
			l.Data[i] = float32(v)
		}
		g := make([]float32, len(x))
		for i := range g {
			g[i] = 99 // Grad overwrites
		}
		if v := m.Grad(g, l); v != m.Value(l) {
			t.Errorf("%v: Grad returned %v, Value %v", m, v, m.Value(l))
		}
		for i := range x {
			if e := math.Abs(float64(g[i])-numeric[i]) / math.Max(1, math.Abs(numeric[i])); e > metricGradTol {
				t.Errorf("%v (%#v): d/dlogit[%d] analytic %v, central difference %v", m, m, i, g[i], numeric[i])
			}
		}
	}
}

func TestMetricValues(t *testing.T) {
	// batch 2, pos 2, vocab 3
	l := tensor.FromSlice([]float32{
		0, 1, 2, 3, 4, 5,
		1, 1, 1, 9, 7, 8,
	}, 2, 2, 3)
	ld := LogitDiff{Answer: []int{2, 0}, Wrong: []int{0, 1}, Pos: Last}
	if got, want := ld.Value(l), ((5.0-3)+(9.0-7))/2; got != want {
		t.Errorf("logit diff %v, want %v", got, want)
	}
	if got, want := (Prob{Answer: []int{1}, Pos: 0}).Value(l), (math.Exp(1)/(1+math.E+math.Exp(2))+1.0/3)/2; math.Abs(got-want) > 1e-12 {
		t.Errorf("prob %v, want %v", got, want)
	}
	loss := Loss{Targets: NextTokenTargets([][]int{{2, 1}, {0, 0}}, 0)}
	want := (-math.Log(math.E/(1+math.E+math.Exp(2))) - math.Log(1.0/3)) / 2
	if got := loss.Value(l); math.Abs(got-want) > 1e-12 {
		t.Errorf("loss %v, want %v", got, want)
	}
	if got := NextTokenTargets([][]int{{5, 6, 7, 8}}, 1); got[0][0] != -1 || got[0][1] != 7 || got[0][2] != 8 || got[0][3] != -1 {
		t.Errorf("NextTokenTargets from 1 = %v", got)
	}
	if _, err := Normalize(1, 2, 2); err == nil {
		t.Error("Normalize with clean = corrupted succeeded")
	}
	if n, _ := Normalize(1.5, 2, 1); n != 0.5 {
		t.Errorf("Normalize(1.5, 2, 1) = %v", n)
	}
}
