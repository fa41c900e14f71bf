package gan

import (
	"math"
	"math/rand/v2"
	"slices"
)

// Params holds one network's parameters (or, with the same layout, their
// gradients, or its BatchNorm running statistics) as named views into one
// allocation. Names and shapes follow PyTorch's state dict, prefixed by the
// network ("G." or "D."):
//
//	G.blocks.0.fc.weight [out, in]                 a linear layer (y = x·Wᵀ + b)
//	G.blocks.1.conv.weight [in, out, kh, kw]       a transposed convolution
//	D.blocks.0.conv.weight [out, in, kh, kw]       a convolution
//	G.blocks.1.bn.weight (γ), G.blocks.1.bn.bias (β) [C]
//	G.blocks.1.bn.running_mean, .running_var [C]   (the buffers)
//	D.head.weight [1, in], D.head.bias [1]         the discriminator's logit
type Params struct {
	data  []float32
	specs []spec
}

// Param is one named view of a Params: its state-dict name, its shape and
// its data (aliased, not copied).
type Param struct {
	Name  string
	Shape []int
	Data  []float32
}

type spec struct {
	name  string
	shape []int
	off   int
	init  initKind
	fan   int // fan-in, for initUniform
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
	initOne              // BatchNorm running variance
	initDCGAN            // DCGAN's weights: N(0, 0.02²)
	initDCGANBN          // DCGAN's BatchNorm γ: N(1, 0.02²)
	initUniform          // PyTorch's Linear default: U(−1/√fan_in, 1/√fan_in)
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

// grad returns the tensor at sp of a gradient buffer, or nil when p is nil
// (parameter gradients not wanted) or sp is empty.
func (p *Params) grad(sp span) []float32 {
	if p == nil {
		return nil
	}
	return p.view(sp)
}

// Data returns the single backing slice, in layout order. Zeroing it zeroes
// every tensor.
func (p *Params) Data() []float32 { return p.data }

// List returns every tensor as a named view, in layout order. Params with
// the same layout list their tensors in the same order.
func (p *Params) List() []Param {
	out := make([]Param, len(p.specs))
	for i, s := range p.specs {
		out[i] = Param{Name: s.name, Shape: slices.Clone(s.shape), Data: p.data[s.off : s.off+s.numel() : s.off+s.numel()]}
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
func (p *Params) Clone() *Params { return &Params{data: slices.Clone(p.data), specs: p.specs} }

// initialise fills p from its specs with a generator seeded by seed.
func (p *Params) initialise(seed uint64) {
	rng := rand.New(rand.NewPCG(seed, seed^0x6a09e667f3bcc908))
	for _, s := range p.specs {
		d := p.data[s.off : s.off+s.numel()]
		switch s.init {
		case initZero:
			clear(d)
		case initOne:
			for i := range d {
				d[i] = 1
			}
		case initDCGAN:
			for i := range d {
				d[i] = float32(0.02 * rng.NormFloat64())
			}
		case initDCGANBN:
			for i := range d {
				d[i] = float32(1 + 0.02*rng.NormFloat64())
			}
		case initUniform:
			bound := 1 / math.Sqrt(float64(s.fan))
			for i := range d {
				d[i] = float32((2*rng.Float64() - 1) * bound)
			}
		}
	}
}
