package gan

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
)

// Model is a GAN: a validated Config, the generator G and the
// discriminator D (the critic, for WGAN). A Model holds no hooks and no
// activations: Generate, Discriminate and Workspaces take those per call, so
// one Model is safe for concurrent use by many goroutines as long as nobody
// writes its parameters or statistics meanwhile.
type Model struct {
	Cfg  Config
	G, D *Net
}

// New returns a model for c (completed with WithDefaults and validated),
// initialised seeded by c.Seed: ArchDCGAN as in the DCGAN paper (weights
// N(0, 0.02²), BatchNorm γ N(1, 0.02²), biases and β 0), ArchMLP with
// PyTorch's nn.Linear default U(−1/√fan_in, 1/√fan_in). BatchNorm running
// statistics start at mean 0, variance 1.
func New(c Config) (*Model, error) {
	m, err := newZero(c)
	if err != nil {
		return nil, err
	}
	m.G.P.initialise(m.Cfg.Seed)
	m.D.P.initialise(m.Cfg.Seed + 1)
	m.G.Buffers.initialise(0)
	m.D.Buffers.initialise(0)
	return m, nil
}

func newZero(c Config) (*Model, error) {
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &Model{Cfg: c, G: buildG(c), D: buildD(c)}, nil
}

// Clone returns a deep copy of the model.
func (m *Model) Clone() *Model {
	return &Model{Cfg: m.Cfg, G: m.G.clone(), D: m.D.clone()}
}

// Point is a hook point and the shape of one example's activation there:
// [C, H, W] for feature maps, [C] for vectors.
type Point struct {
	Name  hooks.Name
	Shape []int
}

// Points lists every hook point, the generator's then the
// discriminator's, each in the order a forward pass reaches them.
func (m *Model) Points() []Point {
	var out []Point
	for _, n := range []*Net{m.G, m.D} {
		out = append(out, n.points()...)
	}
	return out
}

func (n *Net) points() []Point {
	per := func(s shape, vector bool) []int { return s.dims(1, vector)[1:] }
	out := []Point{{n.hookIn, per(n.in, n.vecIn)}}
	for _, k := range n.blocks {
		s := per(k.out, k.vector)
		if k.hookPre != "" {
			out = append(out, Point{k.hookPre, s})
		}
		if k.hookNorm != "" {
			out = append(out, Point{k.hookNorm, s})
		}
		out = append(out, Point{k.hookOut, s})
	}
	return out
}

// HookPoints lists every hook point name, as Points orders them.
func (m *Model) HookPoints() []hooks.Name {
	ps := m.Points()
	out := make([]hooks.Name, len(ps))
	for i, p := range ps {
		out[i] = p.Name
	}
	return out
}

// PointShape returns the per-example shape of the activation at the hook
// point called name; a "_grad" suffix is accepted.
func (m *Model) PointShape(name hooks.Name) ([]int, bool) {
	base := hooks.Name(strings.TrimSuffix(string(name), hooks.GradSuffix))
	for _, p := range m.Points() {
		if p.Name == base {
			return slices.Clone(p.Shape), true
		}
	}
	return nil, false
}

// ParseHook checks a hook name typed by a user against this model's points.
func (m *Model) ParseHook(s string) (hooks.Name, error) { return hooks.Parse(s, m.HookPoints()) }

// SampleZ fills dst with independent standard normal values from rng: n
// latent vectors [n, z_dim] when len(dst) = n·z_dim.
func SampleZ(dst []float32, rng *rand.Rand) {
	for i := range dst {
		dst[i] = float32(rng.NormFloat64())
	}
}

// Generate runs the generator in evaluation mode (BatchNorm running
// statistics) on latent vectors z [N, z_dim] with the given hooks (nil for
// none) and returns the samples: [N, C, H, W] images in (−1, 1) for
// ArchDCGAN, [N, data_dim] points for ArchMLP. A mis-shaped z is an error.
func (m *Model) Generate(ctx context.Context, z *tensor.Tensor, hs *hooks.Set) (*tensor.Tensor, error) {
	return m.run(ctx, m.G, z, hs)
}

// Discriminate runs the discriminator in evaluation mode on samples x
// ([N, C, H, W] or [N, data_dim]) and returns its logits [N, 1]: D(x) =
// σ(logit), or the critic's value for WGAN.
func (m *Model) Discriminate(ctx context.Context, x *tensor.Tensor, hs *hooks.Set) (*tensor.Tensor, error) {
	return m.run(ctx, m.D, x, hs)
}

func (m *Model) run(ctx context.Context, n *Net, x *tensor.Tensor, hs *hooks.Set) (*tensor.Tensor, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	want := n.in.dims(1, n.vecIn)[1:]
	if x == nil || len(x.Shape) != len(want)+1 || x.Shape[0] < 1 || !slices.Equal(x.Shape[1:], want) ||
		len(x.Data) != tensor.Numel(x.Shape) {
		var got []int
		if x != nil {
			got = x.Shape
		}
		return nil, fmt.Errorf("gan: %s input has shape %v, want [N %s] with N ≥ 1", n.Name, got, strings.Trim(fmt.Sprint(want), "[]"))
	}
	ws := n.NewWorkspace(x.Shape[0])
	if err := ws.Forward(x.Data, false, hs); err != nil {
		return nil, err
	}
	return ws.Out().Clone(), nil
}
