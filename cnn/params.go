package cnn

import (
	"math"
	"math/rand/v2"
	"slices"
)

// Params holds a network's parameters (or, with the same layout, their
// gradients, or the BatchNorm running statistics) as named views into one
// allocation. Shapes and names follow PyTorch's state dict:
//
//	conv1.weight [out, in, kh, kw]   fc.weight [out, in]   fc.bias [out]
//	bn1.weight (γ) [C]   bn1.bias (β) [C]
//	bn1.running_mean [C] bn1.running_var [C]   (the buffers)
type Params struct {
	data  []float32
	specs []spec
}

// Param is one named view of a Params: its PyTorch state-dict name, its
// shape, its data (aliased, not copied) and whether weight decay applies
// (convolution and linear weights; not biases or BatchNorm parameters).
type Param struct {
	Name  string
	Shape []int
	Data  []float32
	Decay bool
}

// spec describes one tensor of a Params layout.
type spec struct {
	name  string
	shape []int
	off   int
	init  initKind
	fan   int // fan-in (initUniform) or fan-out (initKaiming)
	decay bool
}

func (s spec) numel() int {
	n := 1
	for _, d := range s.shape {
		n *= d
	}
	return n
}

// initKind names how a tensor is initialised.
type initKind uint8

const (
	initZero    initKind = iota
	initOne              // BatchNorm γ and running variance
	initUniform          // PyTorch's Conv2d/Linear default: U(−1/√fan_in, 1/√fan_in)
	initKaiming          // torchvision's ResNet convs: N(0, 2/fan_out)
)

// span is a tensor's place in its Params: data[off : off+n].
type span struct{ off, n int }

func newParams(specs []spec) *Params {
	n := 0
	if len(specs) > 0 {
		last := specs[len(specs)-1]
		n = last.off + last.numel()
	}
	return &Params{data: make([]float32, n), specs: specs}
}

// view returns the tensor at sp, or nil for an empty span.
func (p *Params) view(sp span) []float32 {
	if sp.n == 0 {
		return nil
	}
	return p.data[sp.off : sp.off+sp.n : sp.off+sp.n]
}

// Data returns the single backing slice, in layout order. Zeroing it zeroes
// every tensor.
func (p *Params) Data() []float32 { return p.data }

// List returns every tensor as a named view, in layout order (the order a
// forward pass first uses them). Params with the same layout list their
// tensors in the same order, so a model's parameters and a gradient buffer
// from NewGrads pair up index by index.
func (p *Params) List() []Param {
	out := make([]Param, len(p.specs))
	for i, s := range p.specs {
		out[i] = Param{Name: s.name, Shape: slices.Clone(s.shape), Data: p.data[s.off : s.off+s.numel()], Decay: s.decay}
	}
	return out
}

// Get returns the tensor called name (a view) and its shape.
func (p *Params) Get(name string) (data []float32, shape []int, ok bool) {
	for _, s := range p.specs {
		if s.name == name {
			return p.data[s.off : s.off+s.numel()], slices.Clone(s.shape), true
		}
	}
	return nil, nil, false
}

// Clone returns a deep copy.
func (p *Params) Clone() *Params {
	return &Params{data: slices.Clone(p.data), specs: p.specs}
}

// initialise fills p from its specs with a generator seeded by seed.
func (p *Params) initialise(seed uint64) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for _, s := range p.specs {
		d := p.data[s.off : s.off+s.numel()]
		switch s.init {
		case initZero:
			clear(d)
		case initOne:
			for i := range d {
				d[i] = 1
			}
		case initUniform:
			bound := 1 / math.Sqrt(float64(s.fan))
			for i := range d {
				d[i] = float32((2*rng.Float64() - 1) * bound)
			}
		case initKaiming:
			std := math.Sqrt(2 / float64(s.fan))
			for i := range d {
				d[i] = float32(rng.NormFloat64() * std)
			}
		}
	}
}
