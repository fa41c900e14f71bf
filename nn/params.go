package nn

import (
	"math/rand/v2"
	"slices"

	"github.com/mechinterp/workbench/tensor"
)

// Params is a model's named-parameter arena: every tensor of a layout
// (parameters, or with the same layout their gradients, or a network's
// buffers such as BatchNorm running statistics) as a view into one
// allocation, in layout order, each with its state-dict name and shape.
// Every model family (transformer, cnn, gan) lays out its memory with it
// and reads and writes checkpoints through StateDict and LoadStateDict.
//
// The layout is fixed at NewParams; Params never reallocates, so views stay
// valid. A Params is not safe for concurrent mutation; distinct tensors may
// be written by distinct goroutines.
type Params struct {
	data  []float32
	specs []ParamSpec
	offs  []int
}

// ParamSpec describes one tensor of a Params: its state-dict name and
// shape, whether weight decay applies, how Init fills it, and, if its
// memory is not laid out as its state-dict shape, the Layout converting
// between the two.
type ParamSpec struct {
	Name   string
	Shape  []int
	Decay  bool
	Init   Init
	Layout Layout // nil: memory is the state dict's row-major layout
}

// Layout converts one tensor between its state-dict layout (row-major in
// ParamSpec.Shape) and the layout of its memory in the arena. Both slices
// have the tensor's number of elements and do not overlap.
type Layout interface {
	ToDict(dst, src []float32)   // memory → state dict
	FromDict(dst, src []float32) // state dict → memory
}

// Init says how Params.Init fills a tensor; the zero value fills zeros.
type Init struct {
	Kind  InitKind
	Mean  float64 // InitNormal
	Scale float64 // InitNormal: the standard deviation; InitUniform: the bound
}

// InitKind is a family of initial values.
type InitKind uint8

// The initialisations.
const (
	InitZero    InitKind = iota
	InitOne              // every element 1 (norm gains, running variances)
	InitNormal           // N(Mean, Scale²)
	InitUniform          // U(−Scale, Scale)
)

// Zeros, Ones, Normal and Uniform return the Init of that kind.
func Zeros() Init                   { return Init{} }
func Ones() Init                    { return Init{Kind: InitOne} }
func Normal(mean, std float64) Init { return Init{Kind: InitNormal, Mean: mean, Scale: std} }
func Uniform(bound float64) Init    { return Init{Kind: InitUniform, Scale: bound} }

// Param is one named view of a Params: its state-dict name, its shape, its
// data (aliased, not copied, in memory layout) and whether weight decay
// applies.
type Param struct {
	Name  string
	Shape []int
	Data  []float32
	Decay bool
}

// NewParams lays out zeroed tensors for specs, in order, in one
// allocation. It panics with a tensor.ShapeError on a negative dimension.
func NewParams(specs []ParamSpec) *Params {
	p := &Params{specs: slices.Clone(specs), offs: make([]int, len(specs)+1)}
	for i, s := range specs {
		p.offs[i+1] = p.offs[i] + tensor.Numel(s.Shape)
	}
	p.data = make([]float32, p.offs[len(specs)])
	return p
}

// NewLike returns zeroed tensors with p's layout (a gradient buffer).
func (p *Params) NewLike() *Params {
	return &Params{data: make([]float32, len(p.data)), specs: p.specs, offs: p.offs}
}

// Clone returns a deep copy.
func (p *Params) Clone() *Params {
	return &Params{data: slices.Clone(p.data), specs: p.specs, offs: p.offs}
}

// Data returns the single backing slice, in layout order. Zeroing it zeroes
// every tensor.
func (p *Params) Data() []float32 { return p.data }

// Len returns the number of tensors.
func (p *Params) Len() int { return len(p.specs) }

// Spec returns tensor i's spec. The shape is shared: do not modify it.
func (p *Params) Spec(i int) ParamSpec { return p.specs[i] }

// View returns tensor i's memory, with capacity its length so that appends
// cannot spill into the next tensor.
func (p *Params) View(i int) []float32 {
	lo, hi := p.offs[i], p.offs[i+1]
	return p.data[lo:hi:hi]
}

// List returns every tensor as a named view, in layout order. Params with
// the same layout list their tensors in the same order, so a model's
// parameters and a gradient buffer from NewLike pair up index by index.
func (p *Params) List() []Param {
	out := make([]Param, len(p.specs))
	for i, s := range p.specs {
		out[i] = Param{Name: s.Name, Shape: slices.Clone(s.Shape), Data: p.View(i), Decay: s.Decay}
	}
	return out
}

// Get returns the tensor called name (a view, in memory layout) and its
// shape.
func (p *Params) Get(name string) (data []float32, shape []int, ok bool) {
	for i, s := range p.specs {
		if s.Name == name {
			return p.View(i), slices.Clone(s.Shape), true
		}
	}
	return nil, nil, false
}

// Init fills every tensor as its spec says, in layout order, drawing from
// rng (normal values with rng.NormFloat64, uniform ones from
// rng.Float64). The same rng state gives the same values.
func (p *Params) Init(rng *rand.Rand) {
	for i, s := range p.specs {
		d := p.View(i)
		switch in := s.Init; in.Kind {
		case InitZero:
			clear(d)
		case InitOne:
			for j := range d {
				d[j] = 1
			}
		case InitNormal:
			for j := range d {
				x := in.Scale * rng.NormFloat64()
				if in.Mean != 0 {
					x += in.Mean
				}
				d[j] = float32(x)
			}
		case InitUniform:
			for j := range d {
				d[j] = float32((2*rng.Float64() - 1) * in.Scale)
			}
		}
	}
}
