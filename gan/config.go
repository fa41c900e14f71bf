package gan

import (
	"encoding/json"
	"fmt"
	"math"
)

// Architectures (Config.Arch).
const (
	// ArchDCGAN is the DCGAN of Radford, Metz & Chintala (2016) for small
	// images (28×28): the generator maps z through a linear layer to a
	// GWidth×(H/4)×(W/4) map and two stride-2 transposed convolutions to the
	// image, with BatchNorm and ReLU after every layer but the last, which
	// is tanh; the discriminator mirrors it with stride-2 convolutions (no
	// pooling), LeakyReLU, BatchNorm on every layer but the first, and a
	// linear head.
	ArchDCGAN = "dcgan"
	// ArchMLP is a pair of multi-layer perceptrons for low-dimensional data
	// (the 2-D Gaussian mixtures): the generator has GLayers hidden ReLU
	// layers of Hidden units and a linear output, the discriminator DLayers
	// hidden LeakyReLU layers and a linear head. No BatchNorm.
	ArchMLP = "mlp"
)

// MaxWidth bounds channel counts and hidden widths, and MaxLayers the depth
// of an MLP, so that a config cannot ask for absurd memory.
const (
	MaxWidth  = 4096
	MaxLayers = 64
)

// Config is a GAN's architecture (generator and discriminator), with
// snake_case JSON names. Training options (loss, learning rates, batch)
// belong to TrainOptions.
type Config struct {
	Arch string `json:"arch"`  // ArchDCGAN or ArchMLP
	ZDim int    `json:"z_dim"` // latent dimension; z ~ N(0, I)

	// ImageC, ImageH and ImageW are ArchDCGAN's image shape; H and W must
	// be multiples of 4 (28×28 for Fashion-MNIST).
	ImageC int `json:"image_channels,omitempty"`
	ImageH int `json:"image_height,omitempty"`
	ImageW int `json:"image_width,omitempty"`
	// GWidth is the generator's channel count at (H/4)×(W/4); it halves at
	// (H/2)×(W/2). DWidth is the discriminator's at (H/2)×(W/2); it doubles
	// at (H/4)×(W/4).
	GWidth int `json:"g_width,omitempty"`
	DWidth int `json:"d_width,omitempty"`

	// DataDim is ArchMLP's data dimension (2 for the mixtures), Hidden its
	// hidden width, GLayers and DLayers the hidden layers of G and D.
	DataDim int `json:"data_dim,omitempty"`
	Hidden  int `json:"hidden,omitempty"`
	GLayers int `json:"g_layers,omitempty"`
	DLayers int `json:"d_layers,omitempty"`

	Slope      float64 `json:"leaky_relu_slope"` // the discriminator's LeakyReLU slope (0.2)
	BNEps      float64 `json:"bn_eps"`           // BatchNorm ε (PyTorch: 1e-5)
	BNMomentum float64 `json:"bn_momentum"`      // running-statistics momentum (PyTorch: 0.1)
	Seed       uint64  `json:"seed"`             // initialisation seed
}

// DCGAN returns the DCGAN for 1×28×28 images: z of 100 dimensions, a
// generator 100 → 64×7×7 → 32×14×14 → 1×28×28 and a discriminator
// 1×28×28 → 32×14×14 → 64×7×7 → 1. The widths are DCGAN's narrowed for a
// CPU: a training step costs about 2.3 GFLOP at batch 64, a quarter of the
// 128/64-channel version's.
func DCGAN() Config {
	return Config{Arch: ArchDCGAN, ZDim: 100, ImageC: 1, ImageH: 28, ImageW: 28, GWidth: 64, DWidth: 32}.WithDefaults()
}

// MLP returns the mixture GAN: z of 8 dimensions, generator and
// discriminator with two hidden layers of 128 units, 2-D data.
func MLP() Config {
	return Config{Arch: ArchMLP, ZDim: 8, DataDim: 2, Hidden: 128, GLayers: 2, DLayers: 2}.WithDefaults()
}

// WithDefaults returns c with unset fields given their defaults: LeakyReLU
// slope 0.2 (DCGAN), BatchNorm ε 1e-5 and momentum 0.1 (PyTorch).
func (c Config) WithDefaults() Config {
	if c.Slope == 0 {
		c.Slope = 0.2
	}
	if c.BNEps == 0 {
		c.BNEps = 1e-5
	}
	if c.BNMomentum == 0 {
		c.BNMomentum = 0.1
	}
	return c
}

// Validate reports the first problem with c as an error.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error { return fmt.Errorf("gan: config: "+format, args...) }
	switch {
	case c.ZDim < 1 || c.ZDim > MaxWidth:
		return bad("z_dim %d must be in [1, %d]", c.ZDim, MaxWidth)
	case !(c.Slope >= 0 && c.Slope < 1):
		return bad("leaky_relu_slope %v must be in [0, 1)", c.Slope)
	case !(c.BNEps > 0) || math.IsInf(c.BNEps, 0):
		return bad("bn_eps %v must be positive and finite", c.BNEps)
	case !(c.BNMomentum > 0 && c.BNMomentum <= 1):
		return bad("bn_momentum %v must be in (0, 1]", c.BNMomentum)
	}
	switch c.Arch {
	case ArchDCGAN:
		switch {
		case c.ImageC < 1 || c.ImageC > MaxWidth:
			return bad("image_channels %d must be in [1, %d]", c.ImageC, MaxWidth)
		case c.ImageH < 4 || c.ImageW < 4 || c.ImageH%4 != 0 || c.ImageW%4 != 0 || c.ImageH > 1024 || c.ImageW > 1024:
			return bad("image %d×%d: sides must be multiples of 4 in [4, 1024]", c.ImageH, c.ImageW)
		case c.GWidth < 2 || c.GWidth > MaxWidth:
			return bad("g_width %d must be in [2, %d]", c.GWidth, MaxWidth)
		case c.DWidth < 1 || 2*c.DWidth > MaxWidth:
			return bad("d_width %d must be in [1, %d]", c.DWidth, MaxWidth/2)
		}
	case ArchMLP:
		switch {
		case c.DataDim < 1 || c.DataDim > MaxWidth:
			return bad("data_dim %d must be in [1, %d]", c.DataDim, MaxWidth)
		case c.Hidden < 1 || c.Hidden > MaxWidth:
			return bad("hidden %d must be in [1, %d]", c.Hidden, MaxWidth)
		case c.GLayers < 1 || c.GLayers > MaxLayers || c.DLayers < 1 || c.DLayers > MaxLayers:
			return bad("g_layers %d and d_layers %d must be in [1, %d]", c.GLayers, c.DLayers, MaxLayers)
		}
	default:
		return bad("unknown arch %q (want %q or %q)", c.Arch, ArchDCGAN, ArchMLP)
	}
	return nil
}

// SampleShape returns the per-example shape of the generator's output and
// the discriminator's input: [C, H, W] for ArchDCGAN, [DataDim] for ArchMLP.
func (c Config) SampleShape() []int {
	if c.Arch == ArchDCGAN {
		return []int{c.ImageC, c.ImageH, c.ImageW}
	}
	return []int{c.DataDim}
}

// SampleSize returns the number of values in one sample.
func (c Config) SampleSize() int {
	n := 1
	for _, d := range c.SampleShape() {
		n *= d
	}
	return n
}

// JSON returns the config as JSON.
func (c Config) JSON() []byte {
	b, err := json.Marshal(c)
	if err != nil {
		panic(err) // a struct of numbers and strings always marshals
	}
	return b
}

// ParseConfig decodes a JSON config, fills defaults and validates it.
func ParseConfig(b []byte) (Config, error) {
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return Config{}, fmt.Errorf("gan: config: %w", err)
	}
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}
