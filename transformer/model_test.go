package transformer

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/nn"
	"github.com/mechinterp/workbench/tensor"
)

// variants covers every architectural code path on tiny sizes.
func variants() map[string]Config {
	base := Config{NLayers: 2, DModel: 12, NHeads: 3, DHead: 4, DVocab: 11, NCtx: 9, Seed: 3}
	v := map[string]Config{}
	add := func(name string, f func(c *Config)) {
		c := base
		f(&c)
		v[name] = c
	}
	add("attn_only", func(c *Config) { c.AttnOnly = true })
	add("ln_gelu", func(c *Config) { c.DMLP = 20; c.NormalizationType = NormLN })
	add("lnpre_gelu_new", func(c *Config) { c.DMLP = 20; c.NormalizationType = NormLNPre; c.ActFn = ActGELUNew })
	add("rms_relu", func(c *Config) { c.DMLP = 20; c.NormalizationType = NormRMS; c.ActFn = ActReLU })
	add("rmspre_tied", func(c *Config) { c.DMLP = 20; c.NormalizationType = NormRMSPre; c.TiedEmbeddings = true })
	add("shortformer_ln", func(c *Config) {
		c.DMLP = 20
		c.NormalizationType = NormLN
		c.PositionalEmbeddingType = PosShortformer
	})
	add("vocab_out", func(c *Config) { c.AttnOnly = true; c.DVocabOut = 7 })
	return v
}

func randTokens(rng *rand.Rand, batch, pos, vocab int) [][]int {
	t := make([][]int, batch)
	for b := range t {
		t[b] = make([]int, pos)
		for p := range t[b] {
			t[b][p] = rng.IntN(vocab)
		}
	}
	return t
}

// randomize gives every parameter (biases and gains too) random values so
// that every code path changes the result.
func randomize(m *Model, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, seed))
	for i := range m.P.data {
		m.P.data[i] = float32(rng.NormFloat64() * 0.3)
	}
}

// gradCheckTol bounds |analytic − central difference| / max(1, |numeric|)
// for the whole float32 model: the loss is float32 logits reduced in
// float64, so rounding noise is ~1e-7·|loss|/step.
const gradCheckTol = 2e-3

// reluStep is the central-difference step for ReLU models: small enough not
// to cross ReLU's kink for pre-activations of typical size, large enough that
// float32 rounding (~1e-7·|loss|/step ≈ 3e-4) stays under gradCheckTol.
const reluStep = 1e-3

func TestGradientsFiniteDifference(t *testing.T) {
	for name, cfg := range variants() {
		t.Run(name, func(t *testing.T) {
			m, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			randomize(m, 7)
			rng := rand.New(rand.NewPCG(1, 2))
			toks := randTokens(rng, 2, 6, min(cfg.DVocab, cfg.WithDefaults().DVocabOut))
			_, g, err := m.Gradients(context.Background(), toks, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			// Check a sample of coordinates of every parameter.
			for _, s := range m.Cfg.paramSpecs() {
				p, gp := *s.ptr(m.P), *s.ptr(g)
				idx := []int{0, len(p) / 2, len(p) - 1, rng.IntN(len(p))}
				slices.Sort(idx)
				idx = slices.Compact(idx)
				x := make([]float64, len(idx))
				an := make([]float64, len(idx))
				for i, j := range idx {
					x[i], an[i] = float64(p[j]), float64(gp[j])
				}
				loss := func(x []float64) float64 {
					old := make([]float32, len(idx))
					for i, j := range idx {
						old[i] = p[j]
						p[j] = float32(x[i])
					}
					l, err := m.Loss(context.Background(), toks, nil, nil)
					if err != nil {
						t.Fatal(err)
					}
					for i, j := range idx {
						p[j] = old[i]
					}
					return l
				}
				step := nn.GradCheckStep
				if cfg.ActFn == ActReLU {
					step = reluStep
				}
				if e, at := nn.GradCheck(loss, x, an, step); e > gradCheckTol {
					t.Errorf("%s[%d]: analytic %.6g vs numeric, error %.3g > %g", s.name, idx[at], an[at], e, gradCheckTol)
				}
			}
		})
	}
}

func TestIdentityHookBitIdentical(t *testing.T) {
	for name, cfg := range variants() {
		m, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		randomize(m, 1)
		toks := randTokens(rand.New(rand.NewPCG(4, 4)), 3, 7, cfg.DVocab)
		plain, err := m.Run(context.Background(), toks, nil)
		if err != nil {
			t.Fatal(err)
		}
		// hook_result is excluded: hooking it switches the output projection
		// to per-head products summed over heads, a different float32
		// summation order (TestResultHookSumsToAttnOut covers it).
		var seen int
		notResult := func(n hooks.Name) bool { return n.Kind() != "attn.hook_result" }
		id := hooks.NewSet().AddMatch(notResult, func(a *tensor.Tensor, n hooks.Name) *tensor.Tensor {
			seen++
			return a
		})
		hooked, err := m.Run(context.Background(), toks, id)
		if err != nil {
			t.Fatal(err)
		}
		if seen != len(m.HookPoints())-cfg.NLayers {
			t.Errorf("%s: identity hook ran at %d points, model has %d", name, seen, len(m.HookPoints()))
		}
		for i := range plain.Data {
			if math.Float32bits(plain.Data[i]) != math.Float32bits(hooked.Data[i]) {
				t.Fatalf("%s: identity hook changed logit %d: %v vs %v", name, i, plain.Data[i], hooked.Data[i])
			}
		}
	}
}

func TestCacheDecodesToLogits(t *testing.T) {
	for name, cfg := range variants() {
		m, _ := New(cfg)
		randomize(m, 2)
		toks := randTokens(rand.New(rand.NewPCG(5, 5)), 2, 8, cfg.DVocab)
		set, cache := hooks.Capture(nil)
		logits, err := m.Run(context.Background(), toks, set)
		if err != nil {
			t.Fatal(err)
		}
		last, _ := cache.Get(hooks.ResidPost(cfg.NLayers - 1))
		dec, err := m.Decode(last)
		if err != nil {
			t.Fatal(err)
		}
		for i := range logits.Data {
			if dec.Data[i] != logits.Data[i] {
				t.Fatalf("%s: ln_final+unembed of cached resid_post differs at %d: %v vs %v", name, i, dec.Data[i], logits.Data[i])
			}
		}
		// Start and stop at a layer compose to the full run.
		logits, err = m.Run(context.Background(), toks, nil)
		if err != nil {
			t.Fatal(err)
		}
		mid, err := m.RunToLayer(context.Background(), toks, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		rest, err := m.RunFromLayer(context.Background(), mid, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := range logits.Data {
			if rest.Data[i] != logits.Data[i] {
				t.Fatalf("%s: RunToLayer+RunFromLayer differs at %d: %v vs %v", name, i, rest.Data[i], logits.Data[i])
			}
		}
		// Every cached activation has its hook point's documented rank.
		for _, n := range cache.Names() {
			a, _ := cache.Get(n)
			want := 3
			switch n.Kind() {
			case "attn.hook_q", "attn.hook_k", "attn.hook_v", "attn.hook_z", "attn.hook_attn_scores", "attn.hook_pattern", "attn.hook_result":
				want = 4
			}
			if len(a.Shape) != want || a.Shape[0] != 2 {
				t.Errorf("%s: %s has shape %v", name, n, a.Shape)
			}
		}
	}
}

func TestPatternInvariants(t *testing.T) {
	m, _ := New(variants()["ln_gelu"])
	randomize(m, 3)
	toks := randTokens(rand.New(rand.NewPCG(6, 6)), 2, 9, 11)
	set, cache := hooks.Capture(nil)
	if _, err := m.Run(context.Background(), toks, set); err != nil {
		t.Fatal(err)
	}
	const rowSumTol = 1e-5 // float32 softmax normalisation
	for l := 0; l < 2; l++ {
		p, _ := cache.Get(hooks.Pattern(l))
		s, _ := cache.Get(hooks.AttnScores(l))
		T := p.Shape[2]
		for r := 0; r < len(p.Data)/T; r++ {
			q := r % T
			var sum float64
			for k := 0; k < T; k++ {
				v := p.Data[r*T+k]
				sum += float64(v)
				if k > q && (v != 0 || !math.IsInf(float64(s.Data[r*T+k]), -1)) {
					t.Fatalf("layer %d row %d: above-diagonal pattern %v, score %v", l, r, v, s.Data[r*T+k])
				}
			}
			if math.Abs(sum-1) > rowSumTol {
				t.Fatalf("layer %d row %d sums to %v", l, r, sum)
			}
		}
	}
}

func TestPatternEditReachesBackward(t *testing.T) {
	m, _ := New(variants()["attn_only"])
	randomize(m, 4)
	toks := randTokens(rand.New(rand.NewPCG(7, 7)), 2, 6, 11)
	// Every query attends only to position 0 in layer 1: then the gradient
	// with respect to layer 1's values vanishes at every position but 0.
	edit := hooks.NewSet().Add(hooks.Pattern(1), func(a *tensor.Tensor, _ hooks.Name) *tensor.Tensor {
		T := a.Shape[3]
		for r := 0; r < len(a.Data)/T; r++ {
			row := a.Data[r*T : (r+1)*T]
			clear(row)
			row[0] = 1
		}
		return nil
	})
	set, cache := hooks.CaptureWithGrads(hooks.Names(hooks.V(1)))
	if _, _, err := m.Gradients(context.Background(), toks, nil, hooks.Merge(edit, set)); err != nil {
		t.Fatal(err)
	}
	dv, ok := cache.Get(hooks.V(1).Grad())
	if !ok {
		t.Fatal("no gradient for hook_v")
	}
	stride := 3 * 4 // heads × d_head
	var at0 float64
	for b := 0; b < 2; b++ {
		for p := 0; p < 6; p++ {
			for i := 0; i < stride; i++ {
				v := dv.Data[(b*6+p)*stride+i]
				if p > 0 && v != 0 {
					t.Fatalf("dv at position %d = %v, want 0 after the pattern edit", p, v)
				}
				if p == 0 {
					at0 += math.Abs(float64(v))
				}
			}
		}
	}
	if at0 == 0 {
		t.Error("dv at position 0 is zero too: the edit did not reach Backward as expected")
	}
}

func TestBackwardHookEditsGradient(t *testing.T) {
	m, _ := New(variants()["ln_gelu"])
	randomize(m, 5)
	toks := randTokens(rand.New(rand.NewPCG(8, 8)), 2, 5, 11)
	_, g0, err := m.Gradients(context.Background(), toks, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Doubling the gradient at hook_embed doubles W_E's gradient only.
	twice := hooks.NewSet().AddBackward(hooks.Embed(), func(g *tensor.Tensor, _ hooks.Name) *tensor.Tensor {
		tensor.Scale(2, g.Data)
		return nil
	})
	_, g1, err := m.Gradients(context.Background(), toks, nil, twice)
	if err != nil {
		t.Fatal(err)
	}
	for i := range g0.WE {
		if g1.WE[i] != 2*g0.WE[i] {
			t.Fatalf("W_E grad %d: %v, want %v", i, g1.WE[i], 2*g0.WE[i])
		}
	}
	for i := range g0.WPos {
		if g1.WPos[i] != g0.WPos[i] {
			t.Fatalf("W_pos grad changed at %d", i)
		}
	}
}

func TestConcurrentRunsWithDifferentHooks(t *testing.T) {
	m, _ := New(variants()["ln_gelu"])
	randomize(m, 6)
	toks := randTokens(rand.New(rand.NewPCG(9, 9)), 2, 7, 11)
	want, _ := m.Run(context.Background(), toks, nil)
	zeroAttn := hooks.NewSet().Add(hooks.AttnOut(0), func(a *tensor.Tensor, _ hooks.Name) *tensor.Tensor {
		a.Zero()
		return nil
	})
	wantZ, _ := m.Run(context.Background(), toks, zeroAttn)
	var wg sync.WaitGroup
	errs := make(chan string, 40)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for r := 0; r < 5; r++ {
				hs, ref := (*hooks.Set)(nil), want
				if i%2 == 1 {
					hs, ref = zeroAttn, wantZ
				}
				got, err := m.Run(context.Background(), toks, hs)
				if err != nil {
					errs <- err.Error()
					return
				}
				for j := range got.Data {
					if got.Data[j] != ref.Data[j] {
						errs <- "concurrent run differs"
						return
					}
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestBadInputIsAnError(t *testing.T) {
	m, _ := New(variants()["attn_only"])
	ctx := context.Background()
	for name, toks := range map[string][][]int{
		"empty batch":  {},
		"empty seq":    {{}},
		"out of range": {{1, 2, 11}},
		"negative":     {{-1}},
		"ragged":       {{1, 2}, {1}},
		"too long":     {make([]int, 10)},
	} {
		if _, err := m.Run(ctx, toks, nil); err == nil {
			t.Errorf("%s: Run accepted %v", name, toks)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.Run(cancelled, [][]int{{1, 2}}, nil); err == nil {
		t.Error("Run ignored a cancelled context")
	}
	bad := hooks.NewSet().Add(hooks.Embed(), func(a *tensor.Tensor, _ hooks.Name) *tensor.Tensor { return tensor.New(1) })
	if _, err := m.Run(ctx, [][]int{{1, 2}}, bad); err == nil {
		t.Error("a hook returning the wrong shape was accepted")
	}
}

func TestConfigValidate(t *testing.T) {
	for name, c := range map[string]Config{
		"zero layers": {NLayers: 0, DModel: 4, NHeads: 1, DHead: 4, DVocab: 3, NCtx: 4, AttnOnly: true},
		"no d_mlp":    {NLayers: 1, DModel: 4, NHeads: 1, DHead: 4, DVocab: 3, NCtx: 4},
		"bad norm":    {NLayers: 1, DModel: 4, NHeads: 1, DHead: 4, DVocab: 3, NCtx: 4, AttnOnly: true, NormalizationType: "BN"},
		"bad act":     {NLayers: 1, DModel: 4, NHeads: 1, DHead: 4, DVocab: 3, NCtx: 4, DMLP: 4, ActFn: "swish"},
		"tied out":    {NLayers: 1, DModel: 4, NHeads: 1, DHead: 4, DVocab: 3, DVocabOut: 5, NCtx: 4, AttnOnly: true, TiedEmbeddings: true},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("%s: New accepted %+v", name, c)
		}
	}
	if _, err := ParseConfig([]byte(`{"n_layers": 2, "d_model": 8, "n_heads": 2, "d_head": 4, "d_mlp": null, "d_vocab": 5, "n_ctx": 4, "attn_only": true, "normalization_type": null, "act_fn": null}`)); err != nil {
		t.Errorf("ParseConfig with nulls: %v", err)
	}
}

func TestResultHookSumsToAttnOut(t *testing.T) {
	const tol = 1e-5 // float32 rounding of a different summation order
	m, _ := New(variants()["ln_gelu"])
	randomize(m, 8)
	toks := randTokens(rand.New(rand.NewPCG(10, 10)), 2, 6, 11)
	set, cache := hooks.Capture(nil)
	logits, err := m.Run(context.Background(), toks, set)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := m.Run(context.Background(), toks, nil)
	for i := range plain.Data {
		if d := math.Abs(float64(plain.Data[i] - logits.Data[i])); d > 1e-4 {
			t.Fatalf("logit %d: hooked %v vs plain %v", i, logits.Data[i], plain.Data[i])
		}
	}
	for l := 0; l < 2; l++ {
		res, _ := cache.Get(hooks.Result(l))
		out, _ := cache.Get(hooks.AttnOut(l))
		d := 12
		for r := 0; r < 12; r++ {
			for j := 0; j < d; j++ {
				s := float64(m.P.Blocks[l].BO[j])
				for h := 0; h < 3; h++ {
					s += float64(res.Data[(r*3+h)*d+j])
				}
				if math.Abs(s-float64(out.Data[r*d+j])) > tol {
					t.Fatalf("layer %d row %d col %d: Σ result + b_O = %v, attn_out %v", l, r, j, s, out.Data[r*d+j])
				}
			}
		}
	}
}

func TestHeadMatchesStateDict(t *testing.T) {
	m, _ := New(variants()["ln_gelu"])
	randomize(m, 21)
	sd := map[string][]float32{}
	for _, s := range m.StateDict() {
		sd[s.Name] = s.Data
	}
	d, dh := 12, 4
	for h := 0; h < 3; h++ {
		hw := m.Head(1, h)
		tl := sd["blocks.1.attn.W_K"][h*d*dh : (h+1)*d*dh] // TL [H, d, dh]
		for i, v := range tl {
			if hw.WK.Data[i] != v {
				t.Fatalf("head %d W_K[%d] = %v, state dict %v", h, i, hw.WK.Data[i], v)
			}
		}
		wo := sd["blocks.1.attn.W_O"][h*dh*d : (h+1)*dh*d]
		for i, v := range wo {
			if hw.WO.Data[i] != v {
				t.Fatalf("head %d W_O[%d] differs", h, i)
			}
		}
	}
}
