package transformer

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/nn"
	"github.com/mechinterp/workbench/tensor"
)

// llamaVariants covers the Llama-family code paths of the backward pass on
// tiny sizes: both rotary pairings (whole and partial heads),
// grouped-query attention, gated and plain SiLU/GELU MLPs and parallel
// attention and MLP, alone and combined.
func llamaVariants() map[string]Config {
	base := Config{NLayers: 2, DModel: 8, NHeads: 4, DHead: 4, DMLP: 10, DVocab: 11, NCtx: 7, Seed: 3, NormalizationType: NormLN}
	v := map[string]Config{}
	add := func(name string, f func(c *Config)) {
		c := base
		f(&c)
		v[name] = c
	}
	rotary := func(c *Config, dim int, adjacent bool) {
		c.PositionalEmbeddingType, c.RotaryDim, c.RotaryBase, c.RotaryAdjacentPairs = PosRotary, dim, 50, adjacent
	}
	add("rotary_half_partial", func(c *Config) { rotary(c, 2, false) })
	add("rotary_adjacent", func(c *Config) { rotary(c, 4, true); c.NormalizationType = NormRMS })
	add("gqa", func(c *Config) { c.NKeyValueHeads = 2 })
	add("gqa_one_kv_attn_only", func(c *Config) { c.NKeyValueHeads = 1; c.AttnOnly = true; c.NormalizationType = NormNone })
	add("silu", func(c *Config) { c.ActFn = ActSiLU })
	add("gated_silu", func(c *Config) { c.GatedMLP, c.ActFn, c.NormalizationType = true, ActSiLU, NormRMS })
	add("gated_gelu", func(c *Config) { c.GatedMLP = true })
	add("gated_gelu_new", func(c *Config) { c.GatedMLP, c.ActFn = true, ActGELUNew })
	add("parallel_ln", func(c *Config) { c.ParallelAttnMLP = true })
	add("parallel_no_norm_gated", func(c *Config) {
		c.ParallelAttnMLP, c.GatedMLP, c.ActFn, c.NormalizationType = true, true, ActSiLU, NormNone
	})
	add("neox", func(c *Config) { rotary(c, 2, false); c.ParallelAttnMLP = true })
	add("llama", func(c *Config) {
		rotary(c, 2, true)
		c.NKeyValueHeads, c.GatedMLP, c.ActFn, c.NormalizationType, c.TiedEmbeddings = 2, true, ActSiLU, NormRMS, true
	})
	return v
}

// TestLlamaGradientsFiniteDifference checks every element of every
// parameter's gradient against float64 central differences of the loss,
// with attention fused and, with a hook on hook_pattern, step by step.
func TestLlamaGradientsFiniteDifference(t *testing.T) {
	stepwise := hooks.NewSet().AddMatch(func(n hooks.Name) bool { return n.Kind() == "attn.hook_pattern" },
		func(*tensor.Tensor, hooks.Name) *tensor.Tensor { return nil })
	for name, cfg := range llamaVariants() {
		for _, mode := range []struct {
			name string
			hs   *hooks.Set
		}{{"fused", nil}, {"stepwise", stepwise}} {
			t.Run(name+"/"+mode.name, func(t *testing.T) {
				m, err := New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				randomize(m, 11)
				toks := randTokens(rand.New(rand.NewPCG(2, 3)), 2, 5, cfg.DVocab)
				ctx := context.Background()
				_, g, err := m.Gradients(ctx, toks, nil, mode.hs)
				if err != nil {
					t.Fatal(err)
				}
				p, gp := m.P.data, g.data
				x, an := nn.To64(p), nn.To64(gp)
				loss := func(x []float64) float64 {
					nn.To32(p, x)
					l, err := m.Loss(ctx, toks, nil, mode.hs)
					if err != nil {
						t.Fatal(err)
					}
					return l
				}
				if e, at := nn.GradCheck(loss, x, an, nn.GradCheckStep); e > gradCheckTol {
					t.Errorf("%s: analytic %.6g, error %.3g > %g", paramElem(m, at), an[at], e, gradCheckTol)
				}
			})
		}
	}
}

// paramElem names element i of m's parameter arena ("blocks.0.attn.W_Q[3]").
func paramElem(m *Model, i int) string {
	off := 0
	for _, s := range m.Cfg.paramSpecs() {
		n := len(*s.ptr(m.P))
		if n > 0 && &m.P.data[off] == &(*s.ptr(m.P))[0] && i < off+n {
			return s.name + "[" + itoa(i-off) + "]"
		}
		off += n
	}
	return "element " + itoa(i)
}

// TestLlamaParallelMatchesSerial: data-parallel training steps give the
// serial gradients on every Llama-family variant.
func TestLlamaParallelMatchesSerial(t *testing.T) {
	for name, cfg := range llamaVariants() {
		t.Run(name, func(t *testing.T) { parallelMatchesSerial(t, cfg, 5) })
	}
}

// TestRotaryGradHooks: the gradient at hook_q is the gradient at
// hook_rot_q rotated back (same norm per head, and the two differ where the
// rotation is not the identity), and a backward hook that zeroes
// hook_rot_q's gradient zeroes W_Q's and b_Q's gradients, not W_K's.
func TestRotaryGradHooks(t *testing.T) {
	cfg := llamaVariants()["llama"]
	m, _ := New(cfg)
	randomize(m, 13)
	toks := randTokens(rand.New(rand.NewPCG(5, 5)), 2, 6, cfg.DVocab)
	ctx := context.Background()
	set, cache := hooks.CaptureWithGrads(hooks.Names(hooks.Q(1), hooks.RotQ(1)))
	if _, _, err := m.Gradients(ctx, toks, nil, set); err != nil {
		t.Fatal(err)
	}
	dq, _ := cache.Get(hooks.Q(1).Grad())
	drot, ok := cache.Get(hooks.RotQ(1).Grad())
	if !ok {
		t.Fatal("no gradient for hook_rot_q")
	}
	dh, differ := cfg.DHead, false
	for off := 0; off < len(dq.Data); off += dh {
		var a, b float64
		for i := range dh {
			a += float64(dq.Data[off+i]) * float64(dq.Data[off+i])
			b += float64(drot.Data[off+i]) * float64(drot.Data[off+i])
			differ = differ || dq.Data[off+i] != drot.Data[off+i]
		}
		if d := a - b; d > 1e-5*(1+a) || -d > 1e-5*(1+a) {
			t.Fatalf("head row %d: |dq|² %g, |d rot_q|² %g", off/dh, a, b)
		}
	}
	if !differ {
		t.Error("d hook_q equals d hook_rot_q: no rotation applied")
	}
	zero := hooks.NewSet().AddBackward(hooks.RotQ(1), func(g *tensor.Tensor, _ hooks.Name) *tensor.Tensor {
		clear(g.Data)
		return nil
	})
	_, g, err := m.Gradients(ctx, toks, nil, zero)
	if err != nil {
		t.Fatal(err)
	}
	b := g.Blocks[1]
	for _, p := range [][]float32{b.WQ, b.BQ} {
		for i, v := range p {
			if v != 0 {
				t.Fatalf("W_Q/b_Q gradient element %d = %g after zeroing d hook_rot_q", i, v)
			}
		}
	}
	if !slices.ContainsFunc(b.WK, func(v float32) bool { return v != 0 }) {
		t.Error("W_K gradient vanished too")
	}
}
