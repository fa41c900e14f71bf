package optim

import (
	"math"
	"testing"
)

// schedTol absorbs float64 rounding in the cosine and the warmup fraction;
// the expected values below are exact in real arithmetic.
const schedTol = 1e-12

func TestSchedules(t *testing.T) {
	tests := []struct {
		name  string
		sched Schedule
		step  int
		want  float64
	}{
		{"Constant(0.3) step 0", Constant(0.3), 0, 0.3},
		{"Constant(0.3) step 1e6", Constant(0.3), 1_000_000, 0.3},

		{"LinearWarmup(2, 4) step -1", LinearWarmup(2, 4), -1, 0.5},
		{"LinearWarmup(2, 4) step 0", LinearWarmup(2, 4), 0, 0.5},
		{"LinearWarmup(2, 4) step 1", LinearWarmup(2, 4), 1, 1},
		{"LinearWarmup(2, 4) step 3 (last warmup)", LinearWarmup(2, 4), 3, 2},
		{"LinearWarmup(2, 4) step 4", LinearWarmup(2, 4), 4, 2},
		{"LinearWarmup(2, 4) step 1000", LinearWarmup(2, 4), 1000, 2},
		{"LinearWarmup(2, 0) step 0", LinearWarmup(2, 0), 0, 2},
		{"LinearWarmup(2, -3) step 0", LinearWarmup(2, -3), 0, 2},

		{"Cosine(1, 10, 110, 0.1) step 0", Cosine(1, 10, 110, 0.1), 0, 0.1},
		{"Cosine(1, 10, 110, 0.1) step 4", Cosine(1, 10, 110, 0.1), 4, 0.5},
		{"Cosine(1, 10, 110, 0.1) step 9 (last warmup)", Cosine(1, 10, 110, 0.1), 9, 1},
		{"Cosine(1, 10, 110, 0.1) step 10 (decay start)", Cosine(1, 10, 110, 0.1), 10, 1},
		{"Cosine(1, 10, 110, 0.1) step 35 (quarter)", Cosine(1, 10, 110, 0.1), 35, 0.1 + 0.45*(1+math.Sqrt2/2)},
		{"Cosine(1, 10, 110, 0.1) step 60 (half)", Cosine(1, 10, 110, 0.1), 60, 0.55},
		{"Cosine(1, 10, 110, 0.1) step 110 (total)", Cosine(1, 10, 110, 0.1), 110, 0.1},
		{"Cosine(1, 10, 110, 0.1) step 111", Cosine(1, 10, 110, 0.1), 111, 0.1},
		{"Cosine(1, 0, 100, 0) step 0", Cosine(1, 0, 100, 0), 0, 1},
		{"Cosine(1, 0, 100, 0) step 50", Cosine(1, 0, 100, 0), 50, 0.5},
		{"Cosine(1, 0, 100, 0) step 100", Cosine(1, 0, 100, 0), 100, 0},
		{"Cosine(1, 0, 100, 0) step -5", Cosine(1, 0, 100, 0), -5, 1},
		{"Cosine(1, 5, 5, 0.2) step 4 (no decay phase)", Cosine(1, 5, 5, 0.2), 4, 1},
		{"Cosine(1, 5, 5, 0.2) step 5", Cosine(1, 5, 5, 0.2), 5, 0.2},
		{"Cosine(1, 5, 3, 0.2) step 5 (total < warmup)", Cosine(1, 5, 3, 0.2), 5, 0.2},
	}
	for _, tt := range tests {
		if got := tt.sched(tt.step); math.Abs(got-tt.want) > schedTol {
			t.Errorf("%s = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestCosineShape checks the invariants of the warmup-cosine schedule over a
// whole run: it rises during warmup within (0, lr], never increases
// afterwards, stays within [minLR, lr] after warmup, and is symmetric about
// the middle of the decay.
func TestCosineShape(t *testing.T) {
	const lr, minLR, warmup, total = 3e-4, 3e-5, 20, 220
	s := Cosine(lr, warmup, total, minLR)
	for step := 1; step <= total+10; step++ {
		prev, cur := s(step-1), s(step)
		lo := minLR
		if step < warmup {
			lo = math.SmallestNonzeroFloat64
		}
		if cur < lo || cur > lr {
			t.Errorf("step %d: lr %v outside [%v, %v]", step, cur, lo, lr)
		}
		if step < warmup && !(cur > prev) {
			t.Errorf("step %d: warmup lr %v not above %v", step, cur, prev)
		}
		if step > warmup && cur > prev {
			t.Errorf("step %d: decay lr %v above %v", step, cur, prev)
		}
	}
	mid := (lr + minLR) / 2
	for d := range total - warmup {
		a, b := s(warmup+d), s(total-d)
		if math.Abs((a-mid)+(b-mid)) > schedTol {
			t.Errorf("steps %d and %d: %v and %v not symmetric about %v", warmup+d, total-d, a, b, mid)
		}
	}
}
