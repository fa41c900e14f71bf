package transformer_test

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/tensor"
	"github.com/mechinterp/workbench/transformer"
)

// llamaCfg is a small Llama-shaped model: RMS norm, rotary (partial when
// rotDim < d_head), grouped-query attention with kv K/V heads, SwiGLU.
func llamaCfg(kv, rotDim int) transformer.Config {
	return transformer.Config{
		NLayers: 2, DModel: 32, NHeads: 4, DHead: 8, DMLP: 48, DVocab: 17, NCtx: 24, Seed: 3,
		NormalizationType: transformer.NormRMS, PositionalEmbeddingType: transformer.PosRotary,
		RotaryDim: rotDim, RotaryBase: 500, NKeyValueHeads: kv, GatedMLP: true, ActFn: transformer.ActSiLU,
		InitRange: 0.3,
	}
}

func newModel(t *testing.T, c transformer.Config) *transformer.Model {
	t.Helper()
	m, err := transformer.New(c.WithDefaults())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func seqs(batch, pos, vocab int, seed int) [][]int {
	out := make([][]int, batch)
	for b := range out {
		out[b] = make([]int, pos)
		for p := range out[b] {
			out[b][p] = (seed + 7*b + 5*p + p*p) % vocab
		}
	}
	return out
}

func capture(t *testing.T, m *transformer.Model, toks [][]int) (*tensor.Tensor, *hooks.Cache) {
	t.Helper()
	set, cache := hooks.Capture(nil)
	logits, err := m.Run(context.Background(), toks, set)
	if err != nil {
		t.Fatal(err)
	}
	return logits, cache
}

// TestRotaryMatchesFormula checks hook_rot_q and hook_rot_k against the
// rotate-half formula computed here in float64 from hook_q and hook_k,
// including the unrotated tail of a partial rotary, and that the rotation
// preserves each head's norm.
func TestRotaryMatchesFormula(t *testing.T) {
	for _, rot := range []int{8, 4} {
		half := rot / 2
		checkRotation(t, llamaCfg(2, rot), func(x []float32, i int, p float64) float64 {
			th := p * math.Pow(500, -2*float64(i%half)/float64(rot))
			if i < half {
				return float64(x[i])*math.Cos(th) - float64(x[i+half])*math.Sin(th)
			}
			return float64(x[i])*math.Cos(th) + float64(x[i-half])*math.Sin(th)
		})
	}
}

// TestGroupedQueryEqualsRepeatedHeads: a model with 2 K/V heads for 4
// query heads computes exactly what the standard model computes whose W_K,
// W_V, b_K, b_V repeat each group's head; hook_k has the K/V-head count,
// hook_pattern one pattern per query head.
func TestGroupedQueryEqualsRepeatedHeads(t *testing.T) {
	cg, cf := llamaCfg(2, 8), llamaCfg(4, 8)
	g, f := newModel(t, cg), newModel(t, cf)
	sd := map[string][]float32{}
	for _, v := range g.ParamViews(g.NewGrads()) {
		sd[v.Name] = v.Data
	}
	d, dh, H, Hkv := cg.DModel, cg.DHead, cg.NHeads, cg.NKeyValueHeads
	for _, v := range f.ParamViews(f.NewGrads()) {
		name := v.Name
		for _, s := range []string{"W_K", "W_V", "b_K", "b_V"} {
			if strings.HasSuffix(name, "attn."+s) {
				src := sd[strings.Replace(name, "attn.", "attn._", 1)]
				rows := 1
				if s[0] == 'W' {
					rows = d // internal layout [d, heads·dh]
				}
				for i := range rows {
					for h := range H {
						copy(v.Data[(i*H+h)*dh:][:dh], src[(i*Hkv+h/(H/Hkv))*dh:][:dh])
					}
				}
				name = ""
				break
			}
		}
		if name != "" {
			src, ok := sd[name]
			if !ok {
				t.Fatalf("%s missing in the grouped model", name)
			}
			copy(v.Data, src)
		}
	}
	toks := seqs(2, 9, cg.DVocab, 4)
	lg, cache := capture(t, g, toks)
	lf, _ := capture(t, f, toks)
	for i := range lg.Data {
		if lg.Data[i] != lf.Data[i] {
			t.Fatalf("logit %d: grouped %g, repeated %g", i, lg.Data[i], lf.Data[i])
		}
	}
	if k, _ := cache.Get(hooks.K(0)); k.Shape[2] != Hkv {
		t.Errorf("hook_k shape %v, want %d heads", k.Shape, Hkv)
	}
	if p, _ := cache.Get(hooks.Pattern(0)); p.Shape[1] != H {
		t.Errorf("hook_pattern shape %v, want %d heads", p.Shape, H)
	}
}

// TestGatedMLPMatchesFormula checks hook_pre, hook_pre_linear and hook_post
// against SwiGLU computed here in float64 from ln2.hook_normalized.
func TestGatedMLPMatchesFormula(t *testing.T) {
	c := llamaCfg(2, 8)
	m := newModel(t, c)
	_, cache := capture(t, m, seqs(1, 5, c.DVocab, 2))
	b := m.P.Blocks[1]
	x, _ := cache.Get(hooks.LN2Normalized(1))
	post, _ := cache.Get(hooks.MLPPost(1))
	pl, ok := cache.Get(hooks.MLPPreLinear(1))
	if !ok {
		t.Fatal("hook_pre_linear not cached")
	}
	d, n := c.DModel, c.DMLP
	for r := range 5 {
		for j := range n {
			var gate, lin float64
			for i := range d {
				gate += float64(x.Data[r*d+i]) * float64(b.WGate[i*n+j])
				lin += float64(x.Data[r*d+i]) * float64(b.WIn[i*n+j])
			}
			want := gate/(1+math.Exp(-gate))*lin + float64(b.BIn[j])
			if math.Abs(float64(post.Data[r*n+j])-want) > 1e-5*(1+math.Abs(want)) {
				t.Fatalf("row %d unit %d: post %g, want %g", r, j, post.Data[r*n+j], want)
			}
			if math.Abs(float64(pl.Data[r*n+j])-lin) > 1e-5*(1+math.Abs(lin)) {
				t.Fatalf("row %d unit %d: pre_linear %g, want %g", r, j, pl.Data[r*n+j], lin)
			}
		}
	}
}

// TestLlamaCausal: changing the token at position u leaves every logit
// before u unchanged, bit for bit, and changes some at u.
func TestLlamaCausal(t *testing.T) {
	c := llamaCfg(2, 4)
	m := newModel(t, c)
	const T = 12
	for _, u := range []int{0, 5, T - 1} {
		a := seqs(1, T, c.DVocab, 6)
		bb := seqs(1, T, c.DVocab, 6)
		bb[0][u] = (bb[0][u] + 3) % c.DVocab
		la, _ := capture(t, m, a)
		lb, _ := capture(t, m, bb)
		V := c.DVocab
		for i := 0; i < u*V; i++ {
			if la.Data[i] != lb.Data[i] {
				t.Fatalf("u %d: logit %d (position %d) changed", u, i, i/V)
			}
		}
		same := true
		for i := u * V; i < (u+1)*V; i++ {
			same = same && la.Data[i] == lb.Data[i]
		}
		if same {
			t.Errorf("u %d: the logits at u did not change", u)
		}
	}
}

// TestLlamaHookPoints: rotary models list hook_rot_q/k and no
// hook_pos_embed; gated MLPs list hook_pre_linear; Act finds them.
func TestLlamaHookPoints(t *testing.T) {
	m := newModel(t, llamaCfg(2, 8))
	pts := map[hooks.Name]bool{}
	for _, n := range m.HookPoints() {
		pts[n] = true
	}
	for _, n := range []hooks.Name{hooks.RotQ(1), hooks.RotK(1), hooks.MLPPreLinear(0)} {
		if !pts[n] {
			t.Errorf("%s not listed", n)
		}
	}
	if pts[hooks.PosEmbed()] {
		t.Errorf("%s listed for a rotary model", hooks.PosEmbed())
	}
	_, cache := capture(t, m, seqs(1, 4, 17, 0))
	for n := range pts {
		if _, ok := cache.Get(n); !ok {
			t.Errorf("%s listed but not reached by a forward pass", n)
		}
	}
}

// TestParallelAttnMLP: with parallel_attn_mlp the MLP reads resid_pre (its
// norm's scale is the attention norm's), resid_post is resid_pre +
// attn_out + mlp_out, and there is no hook_resid_mid.
func TestParallelAttnMLP(t *testing.T) {
	c := llamaCfg(2, 4)
	c.ParallelAttnMLP, c.NormalizationType = true, transformer.NormLN
	m := newModel(t, c)
	for _, n := range m.HookPoints() {
		if n.Kind() == "hook_resid_mid" {
			t.Fatalf("%s listed for a parallel model", n)
		}
	}
	_, cache := capture(t, m, seqs(2, 7, c.DVocab, 3))
	for l := range c.NLayers {
		s1, _ := cache.Get(hooks.LN1Scale(l))
		s2, _ := cache.Get(hooks.LN2Scale(l))
		for i := range s1.Data {
			if s1.Data[i] != s2.Data[i] {
				t.Fatalf("layer %d row %d: ln2 scale %g, ln1 scale %g", l, i, s2.Data[i], s1.Data[i])
			}
		}
		pre, _ := cache.Get(hooks.ResidPre(l))
		at, _ := cache.Get(hooks.AttnOut(l))
		mo, _ := cache.Get(hooks.MLPOut(l))
		post, _ := cache.Get(hooks.ResidPost(l))
		for i := range post.Data {
			if want := pre.Data[i] + at.Data[i] + mo.Data[i]; post.Data[i] != want {
				t.Fatalf("layer %d elem %d: resid_post %g, want %g", l, i, post.Data[i], want)
			}
		}
	}
}

// TestConfigJSONOmitsLlamaDefaults: a standard model's JSON carries none
// of the Llama-family fields (TransformerLens treats any
// n_key_value_heads as grouped-query attention); a Llama model's JSON
// reads back to the same config.
func TestConfigJSONOmitsLlamaDefaults(t *testing.T) {
	c := transformer.Config{NLayers: 1, DModel: 8, NHeads: 2, DHead: 4, DMLP: 16, DVocab: 5, NCtx: 4}.WithDefaults()
	for _, f := range []string{"rotary", "n_key_value_heads", "gated_mlp", "parallel_attn_mlp"} {
		if strings.Contains(string(c.JSON()), f) {
			t.Errorf("standard config JSON has %s: %s", f, c.JSON())
		}
	}
	l := llamaCfg(2, 4).WithDefaults()
	got, err := transformer.ParseConfig(l.JSON())
	if err != nil || got != l {
		t.Errorf("read back %+v, %v; want %+v", got, err, l)
	}
}

// TestGroupedHeadsAndProcessing: Head gives each query head its group's
// W_K and W_V; ProcessWeights (RMS folded into W_Q, W_K, W_V, W_gate and
// W_in, value biases into b_O per group) leaves the logits of a Llama
// model unchanged up to rounding.
func TestGroupedHeadsAndProcessing(t *testing.T) {
	c := llamaCfg(2, 8)
	m := newModel(t, c)
	for i := range m.P.Blocks[0].BV { // non-zero value biases and norm gains, so that folding does something
		m.P.Blocks[0].BV[i] = float32(i%5) * 0.1
	}
	for l := range m.P.Blocks {
		for i := range m.P.Blocks[l].LN2W {
			m.P.Blocks[l].LN2W[i] = 1 + float32(i%3)*0.2
			m.P.Blocks[l].LN1W[i] = 1 - float32(i%4)*0.1
		}
	}
	h0, h1, h2 := m.Head(0, 0), m.Head(0, 1), m.Head(0, 2)
	for i := range h0.WK.Data {
		if h0.WK.Data[i] != h1.WK.Data[i] || h0.WV.Data[i] != h1.WV.Data[i] {
			t.Fatal("heads 0 and 1 (one group) have different W_K or W_V")
		}
	}
	same := true
	for i := range h0.WK.Data {
		same = same && h0.WK.Data[i] == h2.WK.Data[i]
	}
	if same {
		t.Fatal("heads 0 and 2 (two groups) share W_K")
	}
	toks := seqs(2, 9, c.DVocab, 5)
	want, _ := capture(t, m, toks)
	p, err := m.ProcessWeights()
	if err != nil {
		t.Fatal(err)
	}
	got, _ := capture(t, p, toks)
	V := c.DVocab
	for r := 0; r < len(got.Data)/V; r++ {
		// compare log-softmax (CenterUnembed shifts logits per row)
		lse := func(x []float32) float64 {
			mx := math.Inf(-1)
			for _, v := range x {
				mx = math.Max(mx, float64(v))
			}
			s := 0.0
			for _, v := range x {
				s += math.Exp(float64(v) - mx)
			}
			return mx + math.Log(s)
		}
		a, b := want.Data[r*V:(r+1)*V], got.Data[r*V:(r+1)*V]
		la, lb := lse(a), lse(b)
		for i := range a {
			if d := math.Abs((float64(a[i]) - la) - (float64(b[i]) - lb)); d > 1e-4 {
				t.Fatalf("row %d token %d: log-prob differs by %g after ProcessWeights", r, i, d)
			}
		}
	}
}
