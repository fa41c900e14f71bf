package gan

import (
	"strconv"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/nn"
	"github.com/mechinterp/workbench/tensor"
)

// shape is one example's activation shape [C, H, W]; vectors are [C, 1, 1].
type shape struct{ C, H, W int }

func (s shape) size() int { return s.C * s.H * s.W }

// dims returns the hook-point shape [batch, C, H, W], or [batch, C] for a
// vector.
func (s shape) dims(batch int, vector bool) []int {
	if vector {
		return []int{batch, s.C}
	}
	return []int{batch, s.C, s.H, s.W}
}

// op is what a block's first layer computes.
type op uint8

const (
	opLinear op = iota // y = x·Wᵀ + b on the flattened input, PyTorch's nn.Linear layout
	opConv             // nn.Conv2d
	opConvT            // nn.ConvTranspose2d
)

// act is a block's activation function.
type act uint8

const (
	actNone act = iota
	actReLU
	actLeaky // LeakyReLU with Config.Slope
	actTanh
)

// block is one layer of a network — a linear layer or (transposed)
// convolution, an optional BatchNorm and an activation — immutable once
// built. Its hook points are hookPre (the layer's output before BatchNorm
// and activation; "" when the block has neither, its output being hookOut),
// hookNorm (BatchNorm's x̂; "" without BatchNorm) and hookOut.
type block struct {
	op       op
	in, out  shape
	inVector bool // the input's hook shape is [batch, C]
	vector   bool // the output's hook shape is [batch, C]
	conv     nn.Conv2d
	convT    nn.ConvTranspose2d
	bn       bool
	act      act
	w, b     span // the layer's weight and bias (b.n == 0: no bias)
	gamma    span // BatchNorm γ and β
	beta     span
	rm, rv   span // BatchNorm running mean and variance, in the Buffers

	hookPre, hookNorm, hookOut hooks.Name
}

// Net is one of a GAN's two networks: a sequence of blocks with its
// parameters and BatchNorm running statistics. Like the Model that holds it,
// a Net holds no hooks and no activations; Workspaces do.
type Net struct {
	Name    string  // "G" or "D"
	P       *Params // trainable parameters
	Buffers *Params // BatchNorm running_mean and running_var
	in      shape
	vecIn   bool
	blocks  []*block
	hookIn  hooks.Name
	slope   float32
	eps     float32
	mom     float32
}

// NewGrads returns a zeroed gradient buffer with the parameters' layout.
func (n *Net) NewGrads() *Params { return &Params{*n.P.NewLike()} }

// InputPoint returns the hook point of the network's input: G.hook_z or
// D.hook_input.
func (n *Net) InputPoint() hooks.Name { return n.hookIn }

// OutputPoint returns the hook point of the network's output: the last
// generator block's hook_out (the samples) or D.hook_logit.
func (n *Net) OutputPoint() hooks.Name { return n.blocks[len(n.blocks)-1].hookOut }

// InSize and OutSize return the sizes of one example's input and output.
func (n *Net) InSize() int { return n.in.size() }

// OutSize returns the size of one example's output.
func (n *Net) OutSize() int { return n.blocks[len(n.blocks)-1].out.size() }

func (n *Net) clone() *Net {
	c := *n
	c.P, c.Buffers = n.P.Clone(), n.Buffers.Clone()
	return &c
}

// builder lays out a network's blocks and their parameter and buffer specs.
type builder struct {
	net             string
	params, buffers []nn.ParamSpec
	pOff, bOff      int
	dcgan           bool
}

func (b *builder) param(name string, init initKind, fan int, shape ...int) span {
	b.params = append(b.params, nn.ParamSpec{Name: name, Shape: shape, Init: init.init(fan)})
	sp := span{b.pOff, tensor.Numel(shape)}
	b.pOff += sp.n
	return sp
}

func (b *builder) buffer(name string, init initKind, shape ...int) span {
	b.buffers = append(b.buffers, nn.ParamSpec{Name: name, Shape: shape, Init: init.init(0)})
	sp := span{b.bOff, tensor.Numel(shape)}
	b.bOff += sp.n
	return sp
}

// weightInit returns the initialisation of weights and biases: DCGAN's
// N(0, 0.02²) weights and zero biases, or PyTorch's default uniform.
func (b *builder) weightInit() (w, bias initKind) {
	if b.dcgan {
		return initDCGAN, initZero
	}
	return initUniform, initUniform
}

// block returns block l ("G.blocks.l") or, with name set, a named one
// ("D.head"), with its layer op laid out by the caller through setOp.
func (b *builder) block(name string, l int, in, out shape, bn bool, a act) *block {
	if name == "" {
		name = b.net + ".blocks." + strconv.Itoa(l)
	}
	k := &block{in: in, out: out, bn: bn, act: a, hookOut: hooks.Name(name + ".hook_out")}
	if bn || a != actNone {
		k.hookPre = hooks.Name(name + ".hook_pre")
	}
	return k
}

// linear makes k a linear layer named prefix with a bias unless bias is
// false (a BatchNorm follows).
func (b *builder) linear(k *block, prefix string, bias bool) {
	wi, bi := b.weightInit()
	in, out := k.in.size(), k.out.size()
	k.op = opLinear
	k.w = b.param(prefix+".weight", wi, in, out, in)
	if bias {
		k.b = b.param(prefix+".bias", bi, in, out)
	}
}

// conv makes k a 4×4, stride-2, padding-1 convolution (transposed if up)
// named prefix, which halves (doubles) the resolution.
func (b *builder) conv(k *block, prefix string, up, bias bool) {
	wi, bi := b.weightInit()
	if up {
		k.op = opConvT
		k.convT = nn.ConvTranspose2d{InC: k.in.C, InH: k.in.H, InW: k.in.W, OutC: k.out.C, KH: 4, KW: 4, Stride: 2, Pad: 1}
		k.w = b.param(prefix+".weight", wi, k.in.C*16, k.in.C, k.out.C, 4, 4)
	} else {
		k.op = opConv
		k.conv = nn.Conv2d{InC: k.in.C, InH: k.in.H, InW: k.in.W, OutC: k.out.C, KH: 4, KW: 4, Stride: 2, Pad: 1}
		k.w = b.param(prefix+".weight", wi, k.in.C*16, k.out.C, k.in.C, 4, 4)
	}
	if bias {
		k.b = b.param(prefix+".bias", bi, k.in.C*16, k.out.C)
	}
}

// batchNorm gives k a BatchNorm named prefix over its output channels.
func (b *builder) batchNorm(k *block, prefix string) {
	c := k.out.C
	gi := initOne
	if b.dcgan {
		gi = initDCGANBN
	}
	k.gamma = b.param(prefix+".weight", gi, 0, c)
	k.beta = b.param(prefix+".bias", initZero, 0, c)
	k.rm = b.buffer(prefix+".running_mean", initZero, c)
	k.rv = b.buffer(prefix+".running_var", initOne, c)
	k.hookNorm = hooks.Name(prefix + ".hook_normalized")
}

func (b *builder) finish(name string, in shape, vecIn bool, blocks []*block, c Config) *Net {
	return &Net{
		Name: name, P: newParams(b.params), Buffers: newParams(b.buffers),
		in: in, vecIn: vecIn, blocks: blocks,
		hookIn: hooks.Name(name + ".hook_input"),
		slope:  float32(c.Slope), eps: float32(c.BNEps), mom: float32(c.BNMomentum),
	}
}

// buildG returns the generator of c (valid).
func buildG(c Config) *Net {
	b := &builder{net: "G", dcgan: c.Arch == ArchDCGAN}
	z := shape{c.ZDim, 1, 1}
	var ks []*block
	if c.Arch == ArchDCGAN {
		h, w := c.ImageH/4, c.ImageW/4
		s0 := shape{c.GWidth, h, w}
		s1 := shape{c.GWidth / 2, 2 * h, 2 * w}
		img := shape{c.ImageC, c.ImageH, c.ImageW}

		k := b.block("", 0, z, s0, true, actReLU) // z → GWidth×(H/4)×(W/4)
		k.inVector = true
		b.linear(k, "G.blocks.0.fc", false)
		b.batchNorm(k, "G.blocks.0.bn")
		ks = append(ks, k)

		k = b.block("", 1, s0, s1, true, actReLU) // → (GWidth/2)×(H/2)×(W/2)
		b.conv(k, "G.blocks.1.conv", true, false)
		b.batchNorm(k, "G.blocks.1.bn")
		ks = append(ks, k)

		k = b.block("", 2, s1, img, false, actTanh) // → C×H×W in (−1, 1)
		b.conv(k, "G.blocks.2.conv", true, true)
		ks = append(ks, k)
	} else {
		x := z
		for l := range c.GLayers + 1 {
			out, a := shape{c.Hidden, 1, 1}, actReLU
			if l == c.GLayers {
				out, a = shape{c.DataDim, 1, 1}, actNone
			}
			k := b.block("", l, x, out, false, a)
			k.inVector, k.vector = true, true
			b.linear(k, "G.blocks."+strconv.Itoa(l)+".fc", true)
			ks = append(ks, k)
			x = out
		}
	}
	n := b.finish("G", z, true, ks, c)
	n.hookIn = "G.hook_z"
	return n
}

// buildD returns the discriminator of c (valid).
func buildD(c Config) *Net {
	b := &builder{net: "D", dcgan: c.Arch == ArchDCGAN}
	var ks []*block
	var in shape
	vecIn := c.Arch != ArchDCGAN
	if c.Arch == ArchDCGAN {
		in = shape{c.ImageC, c.ImageH, c.ImageW}
		s0 := shape{c.DWidth, c.ImageH / 2, c.ImageW / 2}
		s1 := shape{2 * c.DWidth, c.ImageH / 4, c.ImageW / 4}

		k := b.block("", 0, in, s0, false, actLeaky) // no BatchNorm on the input layer
		b.conv(k, "D.blocks.0.conv", false, true)
		ks = append(ks, k)

		k = b.block("", 1, s0, s1, true, actLeaky)
		b.conv(k, "D.blocks.1.conv", false, false)
		b.batchNorm(k, "D.blocks.1.bn")
		ks = append(ks, k)
	} else {
		in = shape{c.DataDim, 1, 1}
		x := in
		for l := range c.DLayers {
			out := shape{c.Hidden, 1, 1}
			k := b.block("", l, x, out, false, actLeaky)
			k.inVector, k.vector = true, true
			b.linear(k, "D.blocks."+strconv.Itoa(l)+".fc", true)
			ks = append(ks, k)
			x = out
		}
	}
	last := ks[len(ks)-1].out
	head := b.block("D.head", 0, last, shape{1, 1, 1}, false, actNone)
	head.inVector, head.vector = ks[len(ks)-1].vector, true
	b.linear(head, "D.head", true)
	head.hookOut = "D.hook_logit"
	ks = append(ks, head)
	return b.finish("D", in, vecIn, ks, c)
}
