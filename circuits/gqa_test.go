package circuits

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/transformer"
)

// TestCopyingScoresGroupedQuery: with grouped-query attention (hook_v has
// fewer heads than the pattern) each query head's copying score is that of
// the model whose K/V heads are repeated per query head, as the convention
// "each query head uses its group's W_V" says; it used to index hook_v as if
// it had n_heads heads and panic.
func TestCopyingScoresGroupedQuery(t *testing.T) {
	base := transformer.Config{
		NLayers: 2, DModel: 16, NHeads: 4, DHead: 4, DMLP: 24, DVocab: 13, NCtx: 16, Seed: 2,
		NormalizationType: transformer.NormRMS, PositionalEmbeddingType: transformer.PosRotary,
		GatedMLP: true, ActFn: transformer.ActSiLU,
	}
	gc, fc := base, base
	gc.NKeyValueHeads = 2
	g, err := transformer.New(gc)
	if err != nil {
		t.Fatal(err)
	}
	f, err := transformer.New(fc)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(4, 4))
	src := map[string][]float32{}
	for _, v := range g.ParamViews(g.NewGrads()) {
		for i := range v.Data {
			v.Data[i] = float32(rng.NormFloat64() * 0.4)
		}
		src[strings.Replace(v.Name, "attn._", "attn.", 1)] = v.Data
	}
	H, Hkv, dh := gc.NHeads, gc.NKeyValueHeads, gc.DHead
	for _, v := range f.ParamViews(f.NewGrads()) {
		s := src[v.Name]
		if len(s) == len(v.Data) {
			copy(v.Data, s)
			continue
		}
		// K/V parameters: rows of Hkv·d_head become rows of H·d_head.
		for r := range len(v.Data) / (H * dh) {
			for h := range H {
				copy(v.Data[(r*H+h)*dh:][:dh], s[(r*Hkv+h/(H/Hkv))*dh:][:dh])
			}
		}
	}
	toks := [][]int{{1, 5, 7, 2, 9, 5, 7, 2, 9, 11}, {3, 4, 12, 0, 6, 3, 4, 12, 0, 6}}
	got, err := CopyingScores(context.Background(), g, toks, 1)
	if err != nil {
		t.Fatal(err)
	}
	want, err := CopyingScores(context.Background(), f, toks, 1)
	if err != nil {
		t.Fatal(err)
	}
	for l := range want {
		for h := range want[l] {
			if got[l][h] != want[l][h] {
				t.Errorf("layer %d head %d: grouped %g, repeated heads %g", l, h, got[l][h], want[l][h])
			}
		}
	}
}
