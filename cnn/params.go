package cnn

import (
	"math"
	"math/rand/v2"

	"github.com/mechinterp/workbench/nn"
)

// Params holds a network's parameters (or, with the same layout, their
// gradients, or the BatchNorm running statistics) as named views into one
// allocation: an nn.Params arena. Shapes and names follow PyTorch's state
// dict:
//
//	conv1.weight [out, in, kh, kw]   fc.weight [out, in]   fc.bias [out]
//	bn1.weight (γ) [C]   bn1.bias (β) [C]
//	bn1.running_mean [C] bn1.running_var [C]   (the buffers)
//
// Weight decay applies to convolution and linear weights, not to biases or
// BatchNorm parameters.
type Params struct{ nn.Params }

// Param is one named view of a Params (nn.Param).
type Param = nn.Param

// initKind names how a tensor is initialised.
type initKind uint8

const (
	initZero    initKind = iota
	initOne              // BatchNorm γ and running variance
	initUniform          // PyTorch's Conv2d/Linear default: U(−1/√fan_in, 1/√fan_in)
	initKaiming          // torchvision's ResNet convs: N(0, 2/fan_out)
)

// init returns k as an nn.Init for a tensor of fan-in (initUniform) or
// fan-out (initKaiming) fan.
func (k initKind) init(fan int) nn.Init {
	switch k {
	case initOne:
		return nn.Ones()
	case initUniform:
		return nn.Uniform(1 / math.Sqrt(float64(fan)))
	case initKaiming:
		return nn.Normal(0, math.Sqrt(2/float64(fan)))
	}
	return nn.Zeros()
}

// span is a tensor's place in its Params: data[off : off+n].
type span struct{ off, n int }

func newParams(specs []nn.ParamSpec) *Params { return &Params{*nn.NewParams(specs)} }

// view returns the tensor at sp, or nil for an empty span.
func (p *Params) view(sp span) []float32 {
	if sp.n == 0 {
		return nil
	}
	return p.Data()[sp.off : sp.off+sp.n : sp.off+sp.n]
}

// Clone returns a deep copy.
func (p *Params) Clone() *Params { return &Params{*p.Params.Clone()} }

// newLike returns zeroed tensors with p's layout.
func (p *Params) newLike() *Params { return &Params{*p.NewLike()} }

// initialise fills p from its specs with a generator seeded by seed.
func (p *Params) initialise(seed uint64) {
	p.Init(rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)))
}
