package transformer_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/hooks"
	"github.com/mechinterp/workbench/transformer"
)

// rotaryRefTol bounds |float32 rotation − float64 reference| relative to
// 1 + |reference|: a handful of float32 products and the float32 tables.
const rotaryRefTol = 1e-5

// TestRotaryAdjacentMatchesReference checks hook_rot_q and hook_rot_k of a
// rotary_adjacent_pairs model against the adjacent-pair rotation computed
// here in float64 from hook_q and hook_k (pairs (2i, 2i+1) at angle
// p·base^(−2i/rotary_dim), as llama2.c's run.c), with the unrotated tail of
// a partial rotary copied.
func TestRotaryAdjacentMatchesReference(t *testing.T) {
	for _, rot := range []int{8, 4} {
		c := llamaCfg(2, rot)
		c.RotaryAdjacentPairs = true
		checkRotation(t, c, func(x []float32, i int, p float64) float64 {
			pair := i / 2
			ang := p / math.Pow(500, float64(2*pair)/float64(rot))
			a, b := float64(x[2*pair]), float64(x[2*pair+1])
			if i%2 == 0 {
				return a*math.Cos(ang) - b*math.Sin(ang)
			}
			return b*math.Cos(ang) + a*math.Sin(ang)
		})
	}
}

// checkRotation runs a model of config c and checks every hook_rot_q and
// hook_rot_k element against ref(x, i, p), the rotated dimension i < c's
// rotary_dim of the head x (from hook_q or hook_k) at position p; the
// dimensions after rotary_dim must be copied.
func checkRotation(t *testing.T, c transformer.Config, ref func(x []float32, i int, p float64) float64) {
	t.Helper()
	m := newModel(t, c)
	_, cache := capture(t, m, seqs(2, 11, c.DVocab, 1))
	for l := range c.NLayers {
		for _, pair := range [][2]hooks.Name{{hooks.Q(l), hooks.RotQ(l)}, {hooks.K(l), hooks.RotK(l)}} {
			x, _ := cache.Get(pair[0])
			y, ok := cache.Get(pair[1])
			if !ok {
				t.Fatalf("%s not cached", pair[1])
			}
			heads, dh := x.Shape[2], c.DHead
			for r := 0; r < x.Shape[0]*x.Shape[1]; r++ {
				p := float64(r % x.Shape[1])
				for h := range heads {
					xs, ys := x.Data[(r*heads+h)*dh:][:dh], y.Data[(r*heads+h)*dh:][:dh]
					var nx, ny float64
					for i := range dh {
						nx += float64(xs[i]) * float64(xs[i])
						ny += float64(ys[i]) * float64(ys[i])
						want := float64(xs[i])
						if i < c.RotaryDim {
							want = ref(xs, i, p)
						}
						if math.Abs(float64(ys[i])-want) > rotaryRefTol*(1+math.Abs(want)) {
							t.Fatalf("rot %d %s row %d head %d dim %d: %g, want %g", c.RotaryDim, pair[1], r, h, i, ys[i], want)
						}
					}
					if math.Abs(nx-ny) > rotaryRefTol*(1+nx) { // a rotation keeps the norm
						t.Fatalf("rot %d %s row %d head %d: norm² %g, want %g", c.RotaryDim, pair[1], r, h, ny, nx)
					}
				}
			}
		}
	}
}

// permuteTol bounds the logit difference between two models that compute
// the same function with their dot products summed in another order.
const permuteTol = 1e-5

// TestRotaryAdjacentIsPermutedRotateHalf: an adjacent-pair model equals
// the rotate-half model whose W_Q, W_K, b_Q, b_K have each head's columns
// permuted (rotate-half dimension j < r/2 is adjacent dimension 2j, j+r/2
// is 2j+1, the tail is kept) — the invariant relating Meta's layout to
// Hugging Face's — while the unpermuted models differ.
func TestRotaryAdjacentIsPermutedRotateHalf(t *testing.T) {
	for _, rot := range []int{8, 4} {
		ca := llamaCfg(2, rot)
		ca.RotaryAdjacentPairs = true
		ch := llamaCfg(2, rot)
		adj, half := newModel(t, ca), newModel(t, ch)
		rng := rand.New(rand.NewPCG(5, uint64(rot)))
		for _, v := range adj.ParamViews(adj.NewGrads()) {
			for i := range v.Data { // biases too, so that their permutation is tested
				v.Data[i] = float32(rng.NormFloat64() * 0.3)
			}
		}
		perm := func(j int) int {
			switch {
			case j < rot/2:
				return 2 * j
			case j < rot:
				return 2*(j-rot/2) + 1
			}
			return j
		}
		src := map[string][]float32{}
		for _, v := range adj.ParamViews(adj.NewGrads()) {
			src[v.Name] = v.Data
		}
		samePerm := true
		for _, v := range half.ParamViews(half.NewGrads()) {
			a := src[v.Name]
			copy(v.Data, a)
			if !isQK(v.Name) {
				continue
			}
			// Internal layout: rows of heads·d_head, so every d_head chunk is one head.
			for off := 0; off < len(a); off += ch.DHead {
				for j := range ch.DHead {
					v.Data[off+j] = a[off+perm(j)]
				}
			}
			samePerm = false
		}
		if samePerm {
			t.Fatal("no W_Q/W_K parameter found to permute")
		}
		toks := seqs(2, 9, ca.DVocab, 4)
		la, _ := capture(t, adj, toks)
		lh, _ := capture(t, half, toks)
		for i := range la.Data {
			if d := math.Abs(float64(la.Data[i] - lh.Data[i])); d > permuteTol*(1+math.Abs(float64(lh.Data[i]))) {
				t.Fatalf("rot %d logit %d: adjacent %g, permuted rotate-half %g", rot, i, la.Data[i], lh.Data[i])
			}
		}
		// Without the permutation the pairings compute different functions.
		ch.Seed = ca.Seed
		plain := newModel(t, ch)
		copy(plain.P.Data(), adj.P.Data())
		lp, _ := capture(t, plain, toks)
		maxDiff := 0.0
		for i := range la.Data {
			maxDiff = math.Max(maxDiff, math.Abs(float64(la.Data[i]-lp.Data[i])))
		}
		if maxDiff < 1e-3 {
			t.Errorf("rot %d: rotate-half and adjacent pairings agree (max diff %g) on unpermuted weights", rot, maxDiff)
		}
	}
}

// isQK reports whether a parameter name is a W_Q, W_K, b_Q or b_K (grouped
// keys are attn._W_K).
func isQK(name string) bool {
	for _, s := range []string{"W_Q", "W_K", "b_Q", "b_K"} {
		if strings.HasSuffix(name, "."+s) || strings.HasSuffix(name, "._"+s) {
			return true
		}
	}
	return false
}

// TestRotaryAdjacentConfigRoundTrip: the field reads from JSON, is written
// back only when set, and is refused without rotary embeddings.
func TestRotaryAdjacentConfigRoundTrip(t *testing.T) {
	c := llamaCfg(2, 8)
	c.RotaryAdjacentPairs = true
	c = c.WithDefaults()
	js := c.JSON()
	if !strings.Contains(string(js), `"rotary_adjacent_pairs": true`) {
		t.Errorf("JSON lacks rotary_adjacent_pairs: %s", js)
	}
	got, err := transformer.ParseConfig(js)
	if err != nil {
		t.Fatal(err)
	}
	if !got.RotaryAdjacentPairs {
		t.Error("rotary_adjacent_pairs lost in the round trip")
	}
	c.RotaryAdjacentPairs = false
	if strings.Contains(string(c.JSON()), "rotary_adjacent_pairs") {
		t.Errorf("JSON of a rotate-half model names rotary_adjacent_pairs: %s", c.JSON())
	}
}
