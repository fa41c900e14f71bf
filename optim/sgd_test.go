package optim

import (
	"fmt"
	"testing"
)

// refSGD is torch.optim.SGD's documented algorithm in float64, written from
// the pseudo-code: it returns the parameters and momentum buffers after the
// first steps steps of pb.
func refSGD(pb problem, cfg SGDConfig, steps int) (theta, buf [][]float64) {
	theta, buf = to64(pb.init), zeros64(pb.init)
	for t := 1; t <= steps; t++ {
		lr := pb.lrs[t-1]
		for i := range theta {
			for j := range theta[i] {
				g := float64(pb.grads[t-1][i][j])
				if cfg.WeightDecay != 0 && pb.decay[i] {
					g += cfg.WeightDecay * theta[i][j]
				}
				if cfg.Momentum != 0 {
					if t > 1 {
						buf[i][j] = cfg.Momentum*buf[i][j] + (1-cfg.Dampening)*g
					} else {
						buf[i][j] = g
					}
					if cfg.Nesterov {
						g += cfg.Momentum * buf[i][j]
					} else {
						g = buf[i][j]
					}
				}
				theta[i][j] -= lr * g
			}
		}
	}
	return theta, buf
}

var sgdCases = []SGDConfig{
	{},
	{WeightDecay: 0.1},
	{Momentum: 0.9},
	{Momentum: 0.9, Dampening: 0.5},
	{Momentum: 0.5, Dampening: 0.9, WeightDecay: 0.05},
	{Momentum: 0.9, Nesterov: true},
	{Momentum: 0.8, Nesterov: true, WeightDecay: 0.1},
}

func TestSGDMatchesReference(t *testing.T) {
	const steps = 6
	for ci, cfg := range sgdCases {
		seed := uint64(100 + ci)
		t.Run(fmt.Sprintf("%+v", cfg), func(t *testing.T) {
			pb := newProblem(seed, steps, 1)
			ps, o := pb.start(t, sgdCase(cfg).new)
			state := stateMap(o.State())
			for s := 1; s <= steps; s++ {
				pb.run(o, ps, s-1, s)
				theta, buf := refSGD(pb, cfg, s)
				for i, p := range ps {
					what := fmt.Sprintf("seed %d step %d %s", seed, s, p.Name)
					checkClose(t, what+" data", p.Data, theta[i], refTol)
					if cfg.Momentum != 0 {
						checkClose(t, what+" momentum", state["sgd.momentum/"+p.Name], buf[i], refTol)
					}
				}
			}
			if got := o.Steps(); got != steps {
				t.Errorf("Steps() = %d, want %d", got, steps)
			}
		})
	}
}

func TestNewSGDErrors(t *testing.T) {
	ok := []Param{{Name: "W", Data: make([]float32, 2), Grad: make([]float32, 2)}}
	tests := []struct {
		name   string
		params []Param
		cfg    SGDConfig
	}{
		{"negative momentum", ok, SGDConfig{Momentum: -0.1}},
		{"negative dampening", ok, SGDConfig{Dampening: -1}},
		{"NaN weight decay", ok, SGDConfig{WeightDecay: nan()}},
		{"nesterov without momentum", ok, SGDConfig{Nesterov: true}},
		{"nesterov with dampening", ok, SGDConfig{Momentum: 0.9, Dampening: 0.1, Nesterov: true}},
		{"grad length", []Param{{Name: "W", Data: make([]float32, 2), Grad: make([]float32, 3)}}, SGDConfig{}},
		{"empty name", []Param{{Data: make([]float32, 2), Grad: make([]float32, 2)}}, SGDConfig{}},
		{"duplicate name", append(ok, ok[0]), SGDConfig{}},
	}
	for _, tt := range tests {
		if _, err := NewSGD(tt.params, tt.cfg); !isConfigErr(err) {
			t.Errorf("%s: NewSGD(%+v) error = %v, want ErrConfig", tt.name, tt.cfg, err)
		}
	}
}
