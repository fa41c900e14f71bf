package cnn

import (
	"encoding/json"
	"fmt"
	"math"
)

// Architectures (Config.Arch).
const (
	// ArchCNN is a small classifier: per entry of Channels a block
	// conv3×3(pad 1)–BN–ReLU–maxpool2, then dropout and a linear head.
	ArchCNN = "cnn"
	// ArchResNet is a CIFAR-style residual network (He et al. 2016, §4.2):
	// a 3×3 stem conv–BN–ReLU, len(Stages) stages of residual blocks whose
	// width doubles and resolution halves from stage to stage, global
	// average pooling and a linear head.
	ArchResNet = "resnet"
	// ArchPlain is ArchResNet without shortcuts: the same layers, each block
	// computing ReLU(F(x)) instead of ReLU(F(x) + shortcut(x)).
	ArchPlain = "plain"
)

// Residual block types (Config.Block).
const (
	BlockBasic      = "basic"      // 3×3 → 3×3
	BlockBottleneck = "bottleneck" // 1×1 → 3×3 → 1×1, output 4× the inner width
)

// MaxWidth bounds channel counts and MaxDepth the number of blocks, so a
// config cannot ask for absurd memory.
const (
	MaxWidth = 4096
	MaxDepth = 1000
)

// Config is a network's architecture, with PyTorch-style names in JSON. It
// holds architecture only; training options belong to the trainer.
type Config struct {
	Arch     string `json:"arch"`        // ArchCNN, ArchResNet or ArchPlain
	InC      int    `json:"in_channels"` // image channels (1 for Fashion-MNIST)
	InH      int    `json:"in_height"`   // image height (28)
	InW      int    `json:"in_width"`    // image width (28)
	NClasses int    `json:"n_classes"`   // classes (10)

	// Channels are the widths of ArchCNN's conv blocks, each halving the
	// resolution with a 2×2 max-pool.
	Channels []int `json:"channels,omitempty"`
	// Dropout is ArchCNN's drop probability before the head, in [0, 1).
	Dropout float64 `json:"dropout"`

	// Block, Stages and Width shape ArchResNet and ArchPlain: Stages[s]
	// blocks in stage s, of inner width Width·2^s; stages after the first
	// start with a stride-2 block. ResNet-20 is basic, [3, 3, 3], 16.
	Block  string `json:"block,omitempty"`
	Stages []int  `json:"stages,omitempty"`
	Width  int    `json:"width,omitempty"`

	BNEps      float64 `json:"bn_eps"`      // BatchNorm ε (PyTorch: 1e-5)
	BNMomentum float64 `json:"bn_momentum"` // running-statistics momentum (PyTorch: 0.1)
	Seed       uint64  `json:"seed"`        // initialisation seed
}

// Classifier returns the Fashion-MNIST classifier of the benchmark:
// conv16–BN–ReLU–pool–conv32–BN–ReLU–pool–dropout–FC10 on 1×28×28 images.
func Classifier() Config {
	return Config{Arch: ArchCNN, InC: 1, InH: 28, InW: 28, NClasses: 10, Channels: []int{16, 32}}.WithDefaults()
}

// ResNet returns a CIFAR-style residual network for 1×28×28 images with the
// given block type and blocks per stage, width 16; ResNet(BlockBasic, 3, 3, 3)
// is ResNet-20. Plain returns the same network without shortcuts.
func ResNet(block string, stages ...int) Config {
	return Config{Arch: ArchResNet, InC: 1, InH: 28, InW: 28, NClasses: 10, Block: block, Stages: stages, Width: 16}.WithDefaults()
}

// Plain returns ResNet's architecture without shortcuts.
func Plain(block string, stages ...int) Config {
	c := ResNet(block, stages...)
	c.Arch = ArchPlain
	return c
}

// WithDefaults returns c with unset fields given PyTorch's defaults: BN ε
// 1e-5 and momentum 0.1, and for residual networks basic blocks of width 16.
func (c Config) WithDefaults() Config {
	if c.BNEps == 0 {
		c.BNEps = 1e-5
	}
	if c.BNMomentum == 0 {
		c.BNMomentum = 0.1
	}
	if c.Arch == ArchResNet || c.Arch == ArchPlain {
		if c.Block == "" {
			c.Block = BlockBasic
		}
		if c.Width == 0 {
			c.Width = 16
		}
	}
	return c
}

// Validate reports the first problem with c as an error.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error { return fmt.Errorf("cnn: config: "+format, args...) }
	switch {
	case c.InC < 1 || c.InC > MaxWidth || c.InH < 1 || c.InW < 1 || c.InH > 1<<14 || c.InW > 1<<14:
		return bad("image %d×%d×%d: need 1–%d channels and sides of 1–16384", c.InC, c.InH, c.InW, MaxWidth)
	case c.NClasses < 1 || c.NClasses > 1<<20:
		return bad("n_classes %d must be in [1, 2^20]", c.NClasses)
	case !(c.BNEps > 0) || math.IsInf(c.BNEps, 0):
		return bad("bn_eps %v must be positive and finite", c.BNEps)
	case !(c.BNMomentum > 0 && c.BNMomentum <= 1):
		return bad("bn_momentum %v must be in (0, 1]", c.BNMomentum)
	case !(c.Dropout >= 0 && c.Dropout < 1):
		return bad("dropout %v must be in [0, 1)", c.Dropout)
	}
	switch c.Arch {
	case ArchCNN:
		if len(c.Channels) == 0 || len(c.Channels) > MaxDepth {
			return bad("arch %q needs 1–%d channels entries", c.Arch, MaxDepth)
		}
		h, w := c.InH, c.InW
		for i, ch := range c.Channels {
			if ch < 1 || ch > MaxWidth {
				return bad("channels[%d] = %d must be in [1, %d]", i, ch, MaxWidth)
			}
			if h < 2 || w < 2 {
				return bad("block %d would pool a %d×%d map: too many blocks for a %d×%d image", i+1, h, w, c.InH, c.InW)
			}
			h, w = h/2, w/2
		}
	case ArchResNet, ArchPlain:
		if c.Dropout != 0 {
			return bad("arch %q has no dropout layer; dropout must be 0", c.Arch)
		}
		if c.Block != BlockBasic && c.Block != BlockBottleneck {
			return bad("block %q must be %q or %q", c.Block, BlockBasic, BlockBottleneck)
		}
		if len(c.Stages) == 0 || len(c.Stages) > 16 {
			return bad("arch %q needs 1–16 stages", c.Arch)
		}
		total := 0
		for i, n := range c.Stages {
			if n < 1 || n > MaxDepth {
				return bad("stages[%d] = %d must be in [1, %d]", i, n, MaxDepth)
			}
			total += n
		}
		if total > MaxDepth {
			return bad("%d blocks in all exceed %d", total, MaxDepth)
		}
		top := c.Width << (len(c.Stages) - 1)
		if c.Block == BlockBottleneck {
			top *= 4
		}
		if c.Width < 1 || top > MaxWidth {
			return bad("width %d gives %d channels in the last stage; need 1 to %d", c.Width, top, MaxWidth)
		}
	default:
		return bad("unknown arch %q (want %q, %q or %q)", c.Arch, ArchCNN, ArchResNet, ArchPlain)
	}
	return nil
}

// JSON returns the config as JSON.
func (c Config) JSON() []byte {
	b, err := json.Marshal(c)
	if err != nil {
		panic(err) // a struct of numbers, strings and int slices always marshals
	}
	return b
}

// ParseConfig decodes a JSON config, fills defaults and validates it.
func ParseConfig(b []byte) (Config, error) {
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return Config{}, fmt.Errorf("cnn: config: %w", err)
	}
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}
