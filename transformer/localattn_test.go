package transformer

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/hooks"
)

// refTol bounds |float32 forward − float64 reference| / (1 + |reference|)
// for logits of the tiny random models below: a few float32 roundings
// (~6e-8 each) through three blocks, amplified by weights of size 0.3.
const refTol = 1e-4

// refModel is an independent float64 forward pass written from the
// architecture's definition (TransformerLens's conventions), reading the
// TransformerLens state dict, not the internal layout.
type refModel struct {
	c  Config
	sd map[string][]float64
}

func newRefModel(m *Model) *refModel {
	r := &refModel{c: m.Cfg, sd: map[string][]float64{}}
	for _, t := range m.StateDict() {
		x := make([]float64, len(t.Data))
		for i, v := range t.Data {
			x[i] = float64(v)
		}
		r.sd[t.Name] = x
	}
	return r
}

func (r *refModel) w(name string) []float64 {
	x, ok := r.sd[name]
	if !ok {
		panic("refModel: no parameter " + name)
	}
	return x
}

// norm applies the config's normalization with the gain and bias named
// pre+"w", pre+"b" (when present).
func (r *refModel) norm(x []float64, pre string) []float64 {
	c, d := r.c, len(x)
	y := make([]float64, d)
	switch c.NormalizationType {
	case NormNone:
		copy(y, x)
		return y
	case NormLN, NormLNPre:
		mean := 0.0
		for _, v := range x {
			mean += v / float64(d)
		}
		vr := 0.0
		for _, v := range x {
			vr += (v - mean) * (v - mean) / float64(d)
		}
		for i, v := range x {
			y[i] = (v - mean) / math.Sqrt(vr+c.Eps)
		}
	case NormRMS, NormRMSPre:
		ms := 0.0
		for _, v := range x {
			ms += v * v / float64(d)
		}
		for i, v := range x {
			y[i] = v / math.Sqrt(ms+c.Eps)
		}
	}
	if c.NormalizationType == NormLN || c.NormalizationType == NormRMS {
		g := r.w(pre + "w")
		for i := range y {
			y[i] *= g[i]
		}
	}
	if c.NormalizationType == NormLN {
		b := r.w(pre + "b")
		for i := range y {
			y[i] += b[i]
		}
	}
	return y
}

func refAct(act string, x float64) float64 {
	switch act {
	case ActGELU:
		return 0.5 * x * (1 + math.Erf(x/math.Sqrt2))
	case ActGELUNew:
		return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
	case ActReLU:
		return math.Max(x, 0)
	case ActSiLU:
		return x / (1 + math.Exp(-x))
	}
	panic("refAct: " + act)
}

// headProj returns x·W[h] + b[h] for W [heads, d, dh], b [heads, dh].
func headProj(x, W, b []float64, h, dh int) []float64 {
	d := len(x)
	y := make([]float64, dh)
	for j := range dh {
		s := b[h*dh+j]
		for i := range d {
			s += x[i] * W[(h*d+i)*dh+j]
		}
		y[j] = s
	}
	return y
}

// rope rotates x (one head) at position p, rotate-half pairing.
func (r *refModel) rope(x []float64, p int) {
	c := r.c
	half := c.RotaryDim / 2
	for i := range half {
		th := float64(p) * math.Pow(c.RotaryBase, -2*float64(i)/float64(c.RotaryDim))
		x1, x2 := x[i], x[i+half]
		x[i] = x1*math.Cos(th) - x2*math.Sin(th)
		x[i+half] = x2*math.Cos(th) + x1*math.Sin(th)
	}
}

// visible reports whether block l's query i reads key j.
func (r *refModel) visible(l, i, j int) bool {
	if j > i {
		return false
	}
	types := r.c.AttnTypes.List()
	if r.c.UseLocalAttn && types[l] == "local" {
		return j > i-r.c.WindowSize
	}
	return true
}

// forward returns the logits [pos][d_vocab_out] of one sequence and each
// block's pattern [l][head][i][j].
func (r *refModel) forward(toks []int) ([][]float64, [][][][]float64) {
	c := r.c
	d, H, dh, T := c.DModel, c.NHeads, c.DHead, len(toks)
	Hkv := c.NKeyValueHeads
	kv := "attn."
	if Hkv < H {
		kv = "attn._"
	}
	x := make([][]float64, T)
	for p, tok := range toks {
		x[p] = append([]float64(nil), r.w("embed.W_E")[tok*d:(tok+1)*d]...)
		if c.PositionalEmbeddingType == PosStandard {
			for i := range d {
				x[p][i] += r.w("pos_embed.W_pos")[p*d+i]
			}
		}
	}
	var patterns [][][][]float64
	for l := range c.NLayers {
		pre := "blocks." + itoa(l) + "."
		h := make([][]float64, T)
		for p := range T {
			h[p] = r.norm(x[p], pre+"ln1.")
		}
		q := make([][][]float64, T) // [pos][head][dh]
		k := make([][][]float64, T)
		v := make([][][]float64, T)
		for p := range T {
			for hh := range H {
				q[p] = append(q[p], headProj(h[p], r.w(pre+"attn.W_Q"), r.w(pre+"attn.b_Q"), hh, dh))
			}
			for hh := range Hkv {
				k[p] = append(k[p], headProj(h[p], r.w(pre+kv+"W_K"), r.w(pre+kv+"b_K"), hh, dh))
				v[p] = append(v[p], headProj(h[p], r.w(pre+kv+"W_V"), r.w(pre+kv+"b_V"), hh, dh))
			}
			if c.PositionalEmbeddingType == PosRotary {
				for _, y := range q[p] {
					r.rope(y, p)
				}
				for _, y := range k[p] {
					r.rope(y, p)
				}
			}
		}
		div := math.Sqrt(float64(dh))
		if c.AttnScale > 0 {
			div = c.AttnScale
		}
		if c.ScaleAttnByInverseLayerIdx {
			div *= float64(l + 1)
		}
		pat := make([][][]float64, H)
		attnOut := make([][]float64, T)
		WO, bO := r.w(pre+"attn.W_O"), r.w(pre+"attn.b_O")
		for i := range T {
			attnOut[i] = append([]float64(nil), bO...)
		}
		for hh := range H {
			g := hh / (H / Hkv)
			pat[hh] = make([][]float64, T)
			for i := range T {
				row := make([]float64, T)
				top := math.Inf(-1)
				for j := range T {
					if !r.visible(l, i, j) {
						continue
					}
					s := 0.0
					for e := range dh {
						s += q[i][hh][e] * k[j][g][e]
					}
					row[j] = s / div
					top = math.Max(top, row[j])
				}
				sum := 0.0
				for j := range T {
					if r.visible(l, i, j) {
						row[j] = math.Exp(row[j] - top)
						sum += row[j]
					} else {
						row[j] = 0
					}
				}
				z := make([]float64, dh)
				for j := range T {
					row[j] /= sum
					for e := range dh {
						z[e] += row[j] * v[j][g][e]
					}
				}
				pat[hh][i] = row
				for e := range dh {
					for o := range d {
						attnOut[i][o] += z[e] * WO[(hh*dh+e)*d+o]
					}
				}
			}
		}
		patterns = append(patterns, pat)
		for p := range T {
			for o := range d {
				x[p][o] += attnOut[p][o]
			}
		}
		if !c.HasMLP() {
			continue
		}
		n := c.DMLP
		Win, bin, Wout, bout := r.w(pre+"mlp.W_in"), r.w(pre+"mlp.b_in"), r.w(pre+"mlp.W_out"), r.w(pre+"mlp.b_out")
		for p := range T {
			h2 := r.norm(x[p], pre+"ln2.")
			post := make([]float64, n)
			for j := range n {
				lin := 0.0
				for i := range d {
					lin += h2[i] * Win[i*n+j]
				}
				if c.GatedMLP {
					gate := 0.0
					for i := range d {
						gate += h2[i] * r.w(pre + "mlp.W_gate")[i*n+j]
					}
					post[j] = refAct(c.ActFn, gate)*lin + bin[j]
				} else {
					post[j] = refAct(c.ActFn, lin+bin[j])
				}
			}
			for o := range d {
				s := bout[o]
				for j := range n {
					s += post[j] * Wout[j*d+o]
				}
				x[p][o] += s
			}
		}
	}
	V := c.DVocabOut
	logits := make([][]float64, T)
	for p := range T {
		y := r.norm(x[p], "ln_final.")
		logits[p] = make([]float64, V)
		for o := range V {
			s := r.w("unembed.b_U")[o]
			for i := range d {
				if c.TiedEmbeddings {
					s += y[i] * r.w("embed.W_E")[o*d+i]
				} else {
					s += y[i] * r.w("unembed.W_U")[i*V+o]
				}
			}
			logits[p][o] = s
		}
	}
	return logits, patterns
}

// attnVariantConfigs are tiny models exercising each attention variant,
// alone and together, and Qwen2's q/k/v biases without an output bias.
func attnVariantConfigs() map[string]Config {
	base := Config{NLayers: 3, DModel: 16, NHeads: 4, DHead: 4, DMLP: 24, DVocab: 13, NCtx: 12, Seed: 5,
		NormalizationType: NormLN, ActFn: ActGELUNew}
	local, _ := NewAttnTypes(AttnGlobal, AttnLocal, AttnLocal)
	v := map[string]Config{}
	add := func(name string, f func(c *Config)) {
		c := base
		f(&c)
		v[name] = c
	}
	add("default", func(c *Config) {})
	add("use_attn_scale_false", func(c *Config) { c.AttnScale = 1 })
	add("attn_scale_3", func(c *Config) { c.AttnScale = 3 })
	add("inverse_layer_idx", func(c *Config) { c.ScaleAttnByInverseLayerIdx = true })
	add("local_window_3", func(c *Config) { c.UseLocalAttn, c.AttnTypes, c.WindowSize = true, local, 3 })
	add("local_window_1", func(c *Config) { c.UseLocalAttn, c.AttnTypes, c.WindowSize = true, local, 1 })
	add("gpt_neo_like", func(c *Config) {
		c.UseLocalAttn, c.AttnTypes, c.WindowSize, c.AttnScale = true, local, 4, 1
		c.ScaleAttnByInverseLayerIdx = true
	})
	add("qwen2_biases", func(c *Config) {
		c.NormalizationType, c.PositionalEmbeddingType, c.RotaryBase = NormRMS, PosRotary, 1000
		c.NKeyValueHeads, c.GatedMLP, c.ActFn, c.TiedEmbeddings = 2, true, ActSiLU, true
	})
	return v
}

// TestAttnVariantsMatchReference compares the logits and every block's
// pattern of each attention variant with refModel, on two sequences longer
// than the window; for local blocks the pattern must be exactly zero
// outside the window and hook_attn_scores −Inf there.
func TestAttnVariantsMatchReference(t *testing.T) {
	for name, cfg := range attnVariantConfigs() {
		m, err := New(cfg)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		randomize(m, 11)
		if name == "qwen2_biases" {
			for l := range m.Cfg.NLayers {
				clear(m.P.Blocks[l].BO) // Qwen2: q, k, v biases, no output bias
				clear(m.P.Blocks[l].BIn)
				clear(m.P.Blocks[l].BOut)
			}
		}
		ref := newRefModel(m)
		toks := [][]int{{1, 5, 2, 9, 12, 0, 3, 3, 7, 11}, {4, 4, 8, 1, 0, 6, 10, 2, 5, 9}}
		set, cache := hooks.Capture(nil)
		logits, err := m.Run(context.Background(), toks, set)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		plain, err := m.Run(context.Background(), toks, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		T, V := len(toks[0]), m.Cfg.DVocabOut
		for b, seq := range toks {
			want, pats := ref.forward(seq)
			for p := range T {
				for o := range V {
					got, g2 := float64(logits.Data[(b*T+p)*V+o]), float64(plain.Data[(b*T+p)*V+o])
					if math.Abs(got-want[p][o]) > refTol*(1+math.Abs(want[p][o])) || math.Abs(g2-want[p][o]) > refTol*(1+math.Abs(want[p][o])) {
						t.Fatalf("%s: logits[%d,%d,%d] = %g (without hooks %g), reference %g", name, b, p, o, got, g2, want[p][o])
					}
				}
			}
			for l := range m.Cfg.NLayers {
				pat, _ := cache.Get(hooks.Pattern(l))
				scores, _ := cache.Get(hooks.AttnScores(l))
				H := m.Cfg.NHeads
				for h := range H {
					for i := range T {
						for j := range T {
							at := ((b*H+h)*T+i)*T + j
							got, want := float64(pat.Data[at]), pats[l][h][i][j]
							if math.Abs(got-want) > 1e-5 {
								t.Fatalf("%s: block %d pattern[%d,%d,%d,%d] = %g, reference %g", name, l, b, h, i, j, got, want)
							}
							if !ref.visible(l, i, j) && (got != 0 || !math.IsInf(float64(scores.Data[at]), -1)) {
								t.Fatalf("%s: block %d [%d,%d,%d,%d] is masked but pattern %g, score %g", name, l, b, h, i, j, got, scores.Data[at])
							}
						}
					}
				}
			}
		}
	}
}

// TestAttnVariantsChangeLogits guards the reference test against a
// variant that does nothing: each changes the logits of the default model.
func TestAttnVariantsChangeLogits(t *testing.T) {
	cfgs := attnVariantConfigs()
	run := func(c Config) []float32 {
		m, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		randomize(m, 11)
		out, err := m.Run(context.Background(), [][]int{{1, 5, 2, 9, 12, 0, 3, 3, 7, 11}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return out.Data
	}
	base := run(cfgs["default"])
	for _, name := range []string{"use_attn_scale_false", "attn_scale_3", "inverse_layer_idx", "local_window_3", "local_window_1"} {
		got, diff := run(cfgs[name]), 0.0
		for i := range got {
			diff = math.Max(diff, math.Abs(float64(got[i]-base[i])))
		}
		if diff < 1e-3 {
			t.Errorf("%s: logits differ from the default model's by at most %g", name, diff)
		}
	}
}

func TestParseConfigAttnVariants(t *testing.T) {
	const base = `"n_layers": 2, "d_model": 32, "n_heads": 2, "d_head": 16, "d_mlp": 64, "d_vocab": 10, "n_ctx": 8, "act_fn": "gelu_new", "normalization_type": "LN"`
	for _, tc := range []struct {
		fields string
		check  func(c Config) bool
	}{
		{`"use_attn_scale": false`, func(c Config) bool { return c.AttnScale == 1 }},
		{`"use_attn_scale": false, "attn_scale": -1`, func(c Config) bool { return c.AttnScale == 1 }},
		{`"use_attn_scale": false, "attn_scale": 4`, func(c Config) bool { return c.AttnScale == 1 }},
		{`"use_attn_scale": true, "attn_scale": -1`, func(c Config) bool { return c.AttnScale == 4 && !c.customAttn(1) }},
		{`"attn_scale": 2.5`, func(c Config) bool { return c.AttnScale == 2.5 && c.customAttn(0) }},
		{`"scale_attn_by_inverse_layer_idx": true`, func(c Config) bool {
			return c.ScaleAttnByInverseLayerIdx && !c.customAttn(0) && c.customAttn(1) && c.attnDivisor(1) == 8
		}},
		{`"use_local_attn": true, "attn_types": ["global", "local"], "window_size": 3`, func(c Config) bool {
			return c.localAttn(1) && !c.localAttn(0) && !c.customAttn(0) && c.WindowSize == 3
		}},
		{`"use_local_attn": false, "attn_types": null, "window_size": null`, func(c Config) bool { return !c.UseLocalAttn && c.AttnTypes == "" }},
	} {
		c, err := ParseConfig([]byte("{" + base + ", " + tc.fields + "}"))
		if err != nil {
			t.Errorf("%s: %v", tc.fields, err)
			continue
		}
		if !tc.check(c) {
			t.Errorf("%s: read as %+v", tc.fields, c)
		}
		back, err := ParseConfig(c.JSON())
		if err != nil || back != c {
			t.Errorf("%s: JSON round trip gave %+v, %v; want %+v", tc.fields, back, err, c)
		}
	}
	for _, tc := range []struct{ fields, want string }{
		{`"use_attn_scale": "no"`, `"use_attn_scale"`},
		{`"attn_scale": 0`, `"attn_scale": 0 is not positive`},
		{`"attn_scale": -4`, `"attn_scale": -4 is not positive`},
		{`"use_local_attn": true, "attn_types": ["global", "local"]`, "window_size must be positive"},
		{`"use_local_attn": true, "attn_types": ["global"], "window_size": 3`, "one entry per layer (2), got 1"},
		{`"use_local_attn": true, "attn_types": ["global", "banded"], "window_size": 3`, `attn_types[1] is "banded"`},
		{`"attn_types": ["global", "local"]`, "attn_types needs use_local_attn true"},
		{`"window_size": 3`, "window_size 3 needs use_local_attn true"},
	} {
		_, err := ParseConfig([]byte("{" + base + ", " + tc.fields + "}"))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "transformer: ") {
			t.Errorf("%s: error %v, want one containing %q", tc.fields, err, tc.want)
		}
	}
	// The default is omitted from the JSON, so other models' JSON is unchanged.
	c, err := ParseConfig([]byte("{" + base + "}"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"attn_scale", "use_local_attn", "attn_types", "window_size", "scale_attn_by_inverse_layer_idx"} {
		if strings.Contains(string(c.JSON()), k) {
			t.Errorf("default config's JSON has %q:\n%s", k, c.JSON())
		}
	}
}

// TestAttnVariantsTrainingRefused: gradients through the attention
// variants are refused by name, not computed wrong.
func TestAttnVariantsTrainingRefused(t *testing.T) {
	for name, want := range map[string]string{
		"use_attn_scale_false": "attn_scale 1",
		"inverse_layer_idx":    "scale_attn_by_inverse_layer_idx",
		"local_window_3":       "use_local_attn",
	} {
		m, err := New(attnVariantConfigs()[name])
		if err != nil {
			t.Fatal(err)
		}
		toks := [][]int{{1, 2, 3, 4}}
		if _, _, err := m.Gradients(context.Background(), toks, nil, nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: Gradients error %v, want one naming %s", name, err, want)
		}
		if _, err := m.NewParallel(2, 4, 2, 1); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: NewParallel error %v, want one naming %s", name, err, want)
		}
	}
}

func TestAttnTypesLocal(t *testing.T) {
	a, err := NewAttnTypes(AttnGlobal, AttnLocal, AttnLocal, AttnGlobal)
	if err != nil {
		t.Fatal(err)
	}
	for l, want := range []bool{false, true, true, false, false} {
		if got := a.Local(l); got != want {
			t.Errorf("Local(%d) = %t, want %t", l, got, want)
		}
	}
	if a.Local(-1) || AttnTypes("").Local(0) {
		t.Error("Local out of range is true")
	}
	if n := testing.AllocsPerRun(100, func() { a.Local(3) }); n != 0 {
		t.Errorf("Local allocates %g times", n)
	}
}
