package cnn

import (
	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/nn"
	"github.com/mechinterp/workbench/tensor"
)

// kind is what a layer computes.
type kind uint8

const (
	kConv    kind = iota // nn.Conv2d, no bias when followed by BatchNorm
	kBN                  // nn.BatchNorm over [batch, C, H·W]
	kReLU                //
	kMaxPool             // nn.Pool2d, 2×2 stride 2
	kAvgPool             // global average pooling
	kDropout             // inverted dropout
	kLinear              // y = x·Wᵀ + b on the flattened input, PyTorch's layout
	kBlock               // a residual (or plain) block of sub-layers
)

// shape is one example's activation shape [C, H, W]; vectors are [C, 1, 1].
type shape struct{ C, H, W int }

func (s shape) size() int { return s.C * s.H * s.W }

// dims returns the hook-point shape [batch, C, H, W], or [batch, C] for
// vectors (the linear head's output).
func (s shape) dims(batch int, vector bool) []int {
	if vector {
		return []int{batch, s.C}
	}
	return []int{batch, s.C, s.H, s.W}
}

// layer is one step of a network, immutable once built: what it computes,
// its dimensions (Batch left 0, set per pass), where its parameters live in
// the model's Params, and its hook point names. A model is a []*layer run in
// order; a block holds two sub-sequences.
type layer struct {
	kind    kind
	name    string // "conv1", "layer2.0", ...
	in, out shape
	conv    nn.Conv2d
	pool    nn.Pool2d
	drop    float32
	w, b    span // conv/linear weight and bias; BatchNorm γ and β (b.n == 0: no bias)
	rm, rv  span // BatchNorm running mean and variance, in the model's Buffers

	hookOut  hooks.Name // every layer's output
	hookNorm hooks.Name // BatchNorm's x̂
	hookMask hooks.Name // dropout's 0/1 mask

	// Blocks: out = ReLU(F(x) + shortcut(x)), or ReLU(F(x)) when !residual.
	branch, shortcut         []*layer // shortcut nil: identity
	residual                 bool
	hookBranch, hookShortcut hooks.Name
	hookResidPost            hooks.Name

	vector bool // the output is [batch, C] (the linear head)
}

// builder lays out a network's layers and their parameter and buffer specs.
type builder struct {
	params, buffers []nn.ParamSpec
	pOff, bOff      int
	eps             float32
}

func (b *builder) param(name string, init initKind, fan int, decay bool, shape ...int) span {
	b.params = append(b.params, nn.ParamSpec{Name: name, Shape: shape, Decay: decay, Init: init.init(fan)})
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

func point(layer, hook string) hooks.Name { return hooks.Name(layer + "." + hook) }

// conv adds a k×k convolution without bias (every convolution here feeds a
// BatchNorm, which makes a bias redundant). kaiming selects torchvision's
// ResNet initialisation over PyTorch's default.
func (b *builder) conv(name string, in shape, outC, k, stride, pad int, kaiming bool) *layer {
	d := nn.Conv2d{InC: in.C, InH: in.H, InW: in.W, OutC: outC, KH: k, KW: k, Stride: stride, Pad: pad}
	init, fan := initUniform, in.C*k*k
	if kaiming {
		init, fan = initKaiming, outC*k*k
	}
	return &layer{
		kind: kConv, name: name, in: in, out: shape{outC, d.OutH(), d.OutW()}, conv: d,
		w:       b.param(name+".weight", init, fan, true, outC, in.C, k, k),
		hookOut: point(name, "hook_out"),
	}
}

func (b *builder) bn(name string, in shape) *layer {
	return &layer{
		kind: kBN, name: name, in: in, out: in,
		w:       b.param(name+".weight", initOne, 0, false, in.C),
		b:       b.param(name+".bias", initZero, 0, false, in.C),
		rm:      b.buffer(name+".running_mean", initZero, in.C),
		rv:      b.buffer(name+".running_var", initOne, in.C),
		hookOut: point(name, "hook_out"), hookNorm: point(name, "hook_normalized"),
	}
}

func (b *builder) relu(name string, in shape) *layer {
	return &layer{kind: kReLU, name: name, in: in, out: in, hookOut: point(name, "hook_out")}
}

func (b *builder) maxPool(name string, in shape) *layer {
	d := nn.Pool2d{C: in.C, H: in.H, W: in.W, KH: 2, KW: 2, Stride: 2}
	return &layer{kind: kMaxPool, name: name, in: in, out: shape{in.C, d.OutH(), d.OutW()}, pool: d, hookOut: point(name, "hook_out")}
}

func (b *builder) globalAvgPool(name string, in shape) *layer {
	d := nn.Pool2d{C: in.C, H: in.H, W: in.W, KH: in.H, KW: in.W, Stride: 1}
	return &layer{kind: kAvgPool, name: name, in: in, out: shape{in.C, 1, 1}, pool: d, hookOut: point(name, "hook_out")}
}

func (b *builder) dropout(name string, in shape, p float64) *layer {
	return &layer{kind: kDropout, name: name, in: in, out: in, drop: float32(p),
		hookOut: point(name, "hook_out"), hookMask: point(name, "hook_mask")}
}

// linear adds PyTorch's nn.Linear on the flattened input, with its default
// initialisation.
func (b *builder) linear(name string, in shape, out int) *layer {
	n := in.size()
	return &layer{
		kind: kLinear, name: name, in: in, out: shape{out, 1, 1}, vector: true,
		w:       b.param(name+".weight", initUniform, n, true, out, n),
		b:       b.param(name+".bias", initUniform, n, false, out),
		hookOut: point(name, "hook_out"),
	}
}

// block adds a basic or bottleneck block named name ("layer2.0") with the
// given inner width and stride, residual or plain. The shortcut is the
// identity when the shapes agree and otherwise a 1×1 projection with
// BatchNorm (torchvision's "downsample", the ResNet paper's option B).
func (b *builder) block(name string, in shape, kindOf string, width, stride int, residual bool) *layer {
	l := &layer{
		kind: kBlock, name: name, in: in, residual: residual,
		hookOut: point(name, "hook_out"), hookBranch: point(name, "hook_branch"),
	}
	sub := func(s string) string { return name + "." + s }
	x := in
	add := func(sl *layer) {
		l.branch = append(l.branch, sl)
		x = sl.out
	}
	if kindOf == BlockBottleneck {
		add(b.conv(sub("conv1"), x, width, 1, 1, 0, true))
		add(b.bn(sub("bn1"), x))
		add(b.relu(sub("relu1"), x))
		add(b.conv(sub("conv2"), x, width, 3, stride, 1, true))
		add(b.bn(sub("bn2"), x))
		add(b.relu(sub("relu2"), x))
		add(b.conv(sub("conv3"), x, 4*width, 1, 1, 0, true))
		add(b.bn(sub("bn3"), x))
	} else {
		add(b.conv(sub("conv1"), x, width, 3, stride, 1, true))
		add(b.bn(sub("bn1"), x))
		add(b.relu(sub("relu1"), x))
		add(b.conv(sub("conv2"), x, width, 3, 1, 1, true))
		add(b.bn(sub("bn2"), x))
	}
	l.out = x
	if residual {
		l.hookShortcut, l.hookResidPost = point(name, "hook_shortcut"), point(name, "hook_resid_post")
		if stride != 1 || in.C != x.C {
			c := b.conv(sub("downsample.0"), in, x.C, 1, stride, 0, true)
			l.shortcut = []*layer{c, b.bn(sub("downsample.1"), c.out)}
		}
	}
	return l
}

// build returns the layers of c's network with their parameter and buffer
// layouts. c must be valid.
func build(c Config) (net []*layer, params, buffers []nn.ParamSpec) {
	b := &builder{}
	x := shape{c.InC, c.InH, c.InW}
	add := func(l *layer) {
		net = append(net, l)
		x = l.out
	}
	switch c.Arch {
	case ArchCNN:
		for i, ch := range c.Channels {
			n := itoa(i + 1)
			add(b.conv("conv"+n, x, ch, 3, 1, 1, false))
			add(b.bn("bn"+n, x))
			add(b.relu("relu"+n, x))
			add(b.maxPool("pool"+n, x))
		}
		add(b.dropout("dropout1", x, c.Dropout))
		add(b.linear("fc", x, c.NClasses))
	case ArchResNet, ArchPlain:
		add(b.conv("conv1", x, c.Width, 3, 1, 1, true))
		add(b.bn("bn1", x))
		add(b.relu("relu1", x))
		for s, n := range c.Stages {
			for i := range n {
				stride := 1
				if s > 0 && i == 0 {
					stride = 2
				}
				name := "layer" + itoa(s+1) + "." + itoa(i)
				add(b.block(name, x, c.Block, c.Width<<s, stride, c.Arch == ArchResNet))
			}
		}
		add(b.globalAvgPool("avgpool", x))
		add(b.linear("fc", x, c.NClasses))
	}
	return net, b.params, b.buffers
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
