package gan

import (
	"math"
	"math/rand/v2"

	"github.com/mechinterp/workbench/nn"
)

// Params holds one network's parameters (or, with the same layout, their
// gradients, or its BatchNorm running statistics) as named views into one
// allocation: an nn.Params arena. Names and shapes follow PyTorch's state
// dict, prefixed by the network ("G." or "D."):
//
//	G.blocks.0.fc.weight [out, in]                 a linear layer (y = x·Wᵀ + b)
//	G.blocks.1.conv.weight [in, out, kh, kw]       a transposed convolution
//	D.blocks.0.conv.weight [out, in, kh, kw]       a convolution
//	G.blocks.1.bn.weight (γ), G.blocks.1.bn.bias (β) [C]
//	G.blocks.1.bn.running_mean, .running_var [C]   (the buffers)
//	D.head.weight [1, in], D.head.bias [1]         the discriminator's logit
type Params struct{ nn.Params }

// Param is one named view of a Params (nn.Param).
type Param = nn.Param

// initKind names how a tensor is initialised.
type initKind uint8

const (
	initZero    initKind = iota
	initOne              // BatchNorm running variance
	initDCGAN            // DCGAN's weights: N(0, 0.02²)
	initDCGANBN          // DCGAN's BatchNorm γ: N(1, 0.02²)
	initUniform          // PyTorch's Linear default: U(−1/√fan_in, 1/√fan_in)
)

// init returns k as an nn.Init for a tensor of fan-in fan (initUniform).
func (k initKind) init(fan int) nn.Init {
	switch k {
	case initOne:
		return nn.Ones()
	case initDCGAN:
		return nn.Normal(0, 0.02)
	case initDCGANBN:
		return nn.Normal(1, 0.02)
	case initUniform:
		return nn.Uniform(1 / math.Sqrt(float64(fan)))
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

// grad returns the tensor at sp of a gradient buffer, or nil when p is nil
// (parameter gradients not wanted) or sp is empty.
func (p *Params) grad(sp span) []float32 {
	if p == nil {
		return nil
	}
	return p.view(sp)
}

// Clone returns a deep copy.
func (p *Params) Clone() *Params { return &Params{*p.Params.Clone()} }

// initialise fills p from its specs with a generator seeded by seed.
func (p *Params) initialise(seed uint64) {
	p.Init(rand.New(rand.NewPCG(seed, seed^0x6a09e667f3bcc908)))
}
