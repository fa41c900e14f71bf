package optim

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"unsafe"
)

// optCase builds one optimizer configuration over given parameters.
type optCase struct {
	name string
	new  func([]Param) (Optimizer, error)
}

func sgdCase(cfg SGDConfig) optCase {
	return optCase{fmt.Sprintf("sgd%+v", cfg), func(ps []Param) (Optimizer, error) { return NewSGD(ps, cfg) }}
}

func adamCase(cfg AdamConfig, decoupled bool) optCase {
	name := "adam"
	if decoupled {
		name = "adamw"
	}
	return optCase{fmt.Sprintf("%s%+v", name, cfg), func(ps []Param) (Optimizer, error) { return newAdam(ps, cfg, decoupled) }}
}

// stateCases cover every kind of optimizer state, and none.
var stateCases = []optCase{
	sgdCase(SGDConfig{WeightDecay: 0.1}),
	sgdCase(SGDConfig{Momentum: 0.9, Dampening: 0.1, WeightDecay: 0.1}),
	sgdCase(SGDConfig{Momentum: 0.9, Nesterov: true}),
	adamCase(AdamConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.1}, false),
	adamCase(AdamConfig{Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1}, true),
}

// TestResumeBitIdentical interrupts a run after k steps, copies the
// parameters and optimizer state as a checkpoint would, rebuilds everything
// from the copies, loads the state (in reverse order) and finishes the run:
// parameters and state must be bit-identical to an uninterrupted run. The
// learning rate follows a schedule of Steps(), as a training loop's would.
func TestResumeBitIdentical(t *testing.T) {
	const total = 8
	sched := Cosine(0.05, 2, total, 0.005)
	for ci, oc := range stateCases {
		for _, k := range []int{0, 1, 4} {
			seed := uint64(300 + ci)
			t.Run(fmt.Sprintf("%s/resume_at=%d", oc.name, k), func(t *testing.T) {
				pb := newProblem(seed, total, 1)
				for s := range pb.lrs {
					pb.lrs[s] = sched(s)
				}
				wantPs, want := pb.start(t, oc.new)
				pb.run(want, wantPs, 0, total)

				firstPs, first := pb.start(t, oc.new)
				pb.run(first, firstPs, 0, k)
				saved := copyState(first.State())
				slices.Reverse(saved)
				gotPs, got := pb.start(t, oc.new)
				for i := range gotPs {
					copy(gotPs[i].Data, firstPs[i].Data)
				}
				if err := got.LoadState(first.Steps(), saved); err != nil {
					t.Fatal(err)
				}
				pb.run(got, gotPs, got.Steps(), total)

				if got.Steps() != want.Steps() {
					t.Errorf("Steps() = %d, want %d", got.Steps(), want.Steps())
				}
				for i := range gotPs {
					sameBits(t, fmt.Sprintf("seed %d %s", seed, gotPs[i].Name), gotPs[i].Data, wantPs[i].Data)
				}
				gotState, wantState := got.State(), want.State()
				for i := range wantState {
					sameBits(t, fmt.Sprintf("seed %d %s", seed, wantState[i].Name), gotState[i].Data, wantState[i].Data)
				}
			})
		}
	}
}

func TestStateLayout(t *testing.T) {
	ps := newProblem(1, 0, 1).params()
	tests := []struct {
		oc    optCase
		kinds []string
	}{
		{sgdCase(SGDConfig{}), nil},
		{sgdCase(SGDConfig{Momentum: 0.9}), []string{"sgd.momentum/"}},
		{adamCase(AdamConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}, false), []string{"adam.m/", "adam.v/"}},
		{adamCase(AdamConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}, true), []string{"adam.m/", "adam.v/"}},
	}
	for _, tt := range tests {
		o, err := tt.oc.new(ps)
		if err != nil {
			t.Fatal(err)
		}
		st := o.State()
		var names []string
		for _, k := range tt.kinds {
			for _, p := range ps {
				names = append(names, k+p.Name)
			}
		}
		if got := stateNames(st); !slices.Equal(got, names) {
			t.Errorf("%s: State names = %q, want %q", tt.oc.name, got, names)
			continue
		}
		// One allocation: each view starts where the previous one ends.
		for i, s := range st {
			if len(s.Data) != len(ps[i%len(ps)].Data) {
				t.Errorf("%s: %s has %d elements, want %d", tt.oc.name, s.Name, len(s.Data), len(ps[i%len(ps)].Data))
			}
			if i > 0 {
				prev := st[i-1].Data
				end := uintptr(unsafe.Pointer(unsafe.SliceData(prev))) + uintptr(len(prev))*unsafe.Sizeof(float32(0))
				if start := uintptr(unsafe.Pointer(unsafe.SliceData(s.Data))); start != end {
					t.Errorf("%s: %s does not follow %s in one allocation", tt.oc.name, s.Name, st[i-1].Name)
				}
			}
		}
	}
}

func stateNames(st []StateTensor) []string {
	var names []string
	for _, s := range st {
		names = append(names, s.Name)
	}
	return names
}

func TestLoadStateErrors(t *testing.T) {
	pb := newProblem(2, 2, 1)
	for _, oc := range stateCases[1:] { // every case with state
		ps, src := pb.start(t, oc.new)
		pb.run(src, ps, 0, 2)
		good := copyState(src.State())
		edit := func(f func([]StateTensor) []StateTensor) []StateTensor { return f(copyState(good)) }
		tests := []struct {
			name  string
			steps int
			state []StateTensor
		}{
			{"negative steps", -1, good},
			{"short tensor", 2, edit(func(s []StateTensor) []StateTensor { s[0].Data = s[0].Data[1:]; return s })},
			{"long tensor", 2, edit(func(s []StateTensor) []StateTensor { s[1].Data = append(s[1].Data, 0); return s })},
			{"unknown name", 2, edit(func(s []StateTensor) []StateTensor { s[0].Name = "adam.m/nope"; return s })},
			{"missing tensor", 2, good[1:]},
			{"duplicate tensor", 2, append(copyState(good), good[0])},
			{"empty", 2, nil},
		}
		for _, tt := range tests {
			_, dst := pb.start(t, oc.new)
			err := dst.LoadState(tt.steps, tt.state)
			if !errors.Is(err, ErrState) {
				t.Errorf("%s: %s: LoadState error = %v, want ErrState", oc.name, tt.name, err)
			}
			if dst.Steps() != 0 {
				t.Errorf("%s: %s: failed LoadState set Steps() = %d", oc.name, tt.name, dst.Steps())
			}
			for _, s := range dst.State() {
				if slices.ContainsFunc(s.Data, func(x float32) bool { return x != 0 }) {
					t.Errorf("%s: %s: failed LoadState wrote %s", oc.name, tt.name, s.Name)
				}
			}
		}
	}
}

// TestAdamStateInterchangeable checks that AdamW resumes from Adam's state,
// as PyTorch allows: the names and meaning of the moments are the same.
func TestAdamStateInterchangeable(t *testing.T) {
	pb := newProblem(3, 2, 1)
	cfg := AdamConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}
	a, err := NewAdam(pb.params(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewAdamW(pb.params(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.LoadState(a.Steps(), a.State()); err != nil {
		t.Errorf("AdamW.LoadState(Adam state) = %v, want nil", err)
	}
}

// TestStepAllocs proves that a training step's optimizer work allocates
// nothing: Step, ClipGradNorm, ZeroGrad and a schedule lookup.
func TestStepAllocs(t *testing.T) {
	pb := newProblem(4, 1, 1)
	for _, oc := range stateCases {
		ps, o := pb.start(t, oc.new)
		pb.run(o, ps, 0, 1)
		if n := testing.AllocsPerRun(100, func() { o.Step(1e-3) }); n != 0 {
			t.Errorf("%s: Step allocates %v times per run, want 0", oc.name, n)
		}
	}
	ps := pb.params()
	for i, p := range ps {
		copy(p.Grad, pb.grads[0][i]) // non-zero, so that clipping scales
	}
	sched := Cosine(1e-3, 10, 100, 1e-4)
	other := map[string]func(){
		"ClipGradNorm": func() { ClipGradNorm(ps, 1e-3) },
		"ZeroGrad":     func() { ZeroGrad(ps) },
		"Cosine":       func() { _ = sched(50) },
	}
	for name, f := range other {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s allocates %v times per run, want 0", name, n)
		}
	}
}

// TestLoadStateEmptyParam checks that a zero-length parameter's buffers load
// from nil slices, as a checkpoint reader may return for empty tensors.
func TestLoadStateEmptyParam(t *testing.T) {
	ps := []Param{{Name: "W_E", Data: []float32{1}, Grad: []float32{1}}, {Name: "b_E"}}
	o, err := NewAdam(ps, AdamConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8})
	if err != nil {
		t.Fatal(err)
	}
	st := []StateTensor{
		{Name: "adam.m/W_E", Data: []float32{0.5}}, {Name: "adam.v/W_E", Data: []float32{0.25}},
		{Name: "adam.m/b_E"}, {Name: "adam.v/b_E"},
	}
	if err := o.LoadState(3, st); err != nil {
		t.Fatalf("LoadState(3, %v) = %v, want nil", st, err)
	}
	if got := stateMap(o.State())["adam.v/W_E"]; len(got) != 1 || got[0] != 0.25 {
		t.Errorf("adam.v/W_E = %v after LoadState, want [0.25]", got)
	}
}
