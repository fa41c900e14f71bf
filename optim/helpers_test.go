package optim

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// refTol bounds the normwise relative error max|got−want| / max|want| between
// a float32 optimizer and its float64 reference over a whole tensor after at
// most 8 steps. Each step rounds a few float32 operations per element
// (relative error 6e-8 each) and those errors add up across steps; Adam's
// m/√v divides two rounded quantities. Measured errors stay below 1e-6; a
// wrong formula (a missing bias correction, dampening applied at step 1,
// decay on a bias) moves values by > 1e-3 with the learning rates used here.
const refTol = 1e-5

// testParamNames are TransformerLens names covering both sides of the decay
// rule; each test problem uses them in this order.
var testParamNames = []string{"embed.W_E", "blocks.0.attn.b_Q", "blocks.0.ln1.w", "blocks.0.mlp.W_in"}

// testParamSizes are the flattened sizes of testParamNames' parameters.
var testParamSizes = []int{12, 5, 5, 20}

// problem is a seeded optimisation problem: initial parameters, a gradient
// for every step and a learning rate for every step (varying, as under a
// schedule).
type problem struct {
	seed  uint64
	decay []bool        // [param], DecayByName of testParamNames
	init  [][]float32   // [param][i]
	grads [][][]float32 // [step][param][i]
	lrs   []float64     // [step]
}

// newProblem draws initial parameters ~ N(0, 1), steps gradients ~
// N(0, gradScale²) and learning rates in [0.01, 0.1).
func newProblem(seed uint64, steps int, gradScale float64) problem {
	rng := rand.New(rand.NewPCG(seed, seed))
	pb := problem{seed: seed}
	for i, n := range testParamSizes {
		pb.decay = append(pb.decay, DecayByName(testParamNames[i]))
		pb.init = append(pb.init, normals(rng, n, 1))
	}
	for range steps {
		var g [][]float32
		for _, n := range testParamSizes {
			g = append(g, normals(rng, n, gradScale))
		}
		pb.grads = append(pb.grads, g)
		pb.lrs = append(pb.lrs, 0.01+0.09*rng.Float64())
	}
	return pb
}

func normals(rng *rand.Rand, n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(scale * rng.NormFloat64())
	}
	return x
}

// params returns fresh parameters holding copies of the initial values, with
// zero gradients and Decay set by DecayByName.
func (pb problem) params() []Param {
	ps := make([]Param, len(pb.init))
	for i, x := range pb.init {
		ps[i] = Param{Name: testParamNames[i], Data: append([]float32(nil), x...), Grad: make([]float32, len(x)), Decay: pb.decay[i]}
	}
	return ps
}

// start returns fresh parameters and an optimizer over them built by newOpt.
func (pb problem) start(t *testing.T, newOpt func([]Param) (Optimizer, error)) ([]Param, Optimizer) {
	t.Helper()
	ps := pb.params()
	o, err := newOpt(ps)
	if err != nil {
		t.Fatal(err)
	}
	return ps, o
}

// run takes steps from..to−1 of the problem: it loads each step's gradients
// into ps and calls o.Step with that step's learning rate.
func (pb problem) run(o Optimizer, ps []Param, from, to int) {
	for s := from; s < to; s++ {
		for i, p := range ps {
			copy(p.Grad, pb.grads[s][i])
		}
		o.Step(pb.lrs[s])
	}
}

// to64 returns a float64 copy of every tensor in x.
func to64(x [][]float32) [][]float64 {
	out := make([][]float64, len(x))
	for i, xi := range x {
		out[i] = make([]float64, len(xi))
		for j, v := range xi {
			out[i][j] = float64(v)
		}
	}
	return out
}

// zeros64 returns float64 zero tensors shaped like x.
func zeros64(x [][]float32) [][]float64 {
	out := make([][]float64, len(x))
	for i, xi := range x {
		out[i] = make([]float64, len(xi))
	}
	return out
}

// checkClose fails unless max|got−want| ≤ tol·max|want| (normwise relative
// error; a zero want must be matched exactly).
func checkClose(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d elements, want %d", what, len(got), len(want))
	}
	var scale, worst float64
	at := -1
	for i := range want {
		scale = math.Max(scale, math.Abs(want[i]))
		if e := math.Abs(float64(got[i]) - want[i]); e > worst || at < 0 || math.IsNaN(e) {
			worst, at = e, i
		}
	}
	if len(want) > 0 && !(worst <= tol*scale) {
		t.Errorf("%s: element %d: got %v, want %v (normwise error %.3g > %.3g)",
			what, at, got[at], want[at], worst/scale, tol)
	}
}

// sameBits fails unless got and want are bit-identical.
func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d elements, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Errorf("%s: element %d: got %v, want %v (bits differ)", what, i, got[i], want[i])
			return
		}
	}
}

// copyState deep-copies exported state, as writing a checkpoint would.
func copyState(st []StateTensor) []StateTensor {
	out := make([]StateTensor, len(st))
	for i, s := range st {
		out[i] = StateTensor{Name: s.Name, Data: append([]float32{}, s.Data...)}
	}
	return out
}

// stateMap indexes exported state by name.
func stateMap(st []StateTensor) map[string][]float32 {
	m := make(map[string][]float32, len(st))
	for _, s := range st {
		m[s.Name] = s.Data
	}
	return m
}

func nan() float64 { return math.NaN() }

// isConfigErr reports whether err wraps ErrConfig.
func isConfigErr(err error) bool { return errors.Is(err, ErrConfig) }
