package transformer

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestFromParams: a model rebuilt by FromParams from its own state dict
// (TransformerLens layout, W_Q/W_K/W_V [H, d, dh] included) has the same
// parameters bit for bit, and errors of fill name every failing parameter.
func TestFromParams(t *testing.T) {
	for _, c := range []Config{
		{NLayers: 2, DModel: 12, NHeads: 3, DHead: 4, DMLP: 20, DVocab: 11, NCtx: 9, NormalizationType: NormLN},
		{NLayers: 1, DModel: 8, NHeads: 2, DHead: 3, DVocab: 7, NCtx: 5, AttnOnly: true, TiedEmbeddings: true},
	} {
		want, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range want.P.Data() {
			want.P.Data()[i] = float32(rng.NormFloat64())
		}
		dict := map[string][]float32{}
		shapes := map[string][]int{}
		for _, st := range want.StateDict() {
			dict[st.Name], shapes[st.Name] = st.Data, st.Shape
		}
		got, err := FromParams(c, func(name string, shape []int, dst []float32) error {
			if !slices.Equal(shape, shapes[name]) || len(dst) != len(dict[name]) {
				return fmt.Errorf("%s: shape %v, len %d; state dict %v", name, shape, len(dst), shapes[name])
			}
			copy(dst, dict[name])
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.P.Data(), want.P.Data()) {
			t.Errorf("%+v: parameters differ from the model's", c)
		}
		if got.Cfg != want.Cfg {
			t.Errorf("config %+v, want %+v", got.Cfg, want.Cfg)
		}
	}
	c := Config{NLayers: 2, DModel: 8, NHeads: 2, DHead: 4, DVocab: 7, NCtx: 5, AttnOnly: true}
	_, err := FromParams(c, func(name string, _ []int, _ []float32) error {
		if strings.HasSuffix(name, "W_K") {
			return errors.New("no source for " + name)
		}
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "blocks.0.attn.W_K") || !strings.Contains(err.Error(), "blocks.1.attn.W_K") {
		t.Errorf("FromParams with failing fills: %v, want both W_K named", err)
	}
	if _, err := FromParams(Config{}, nil); err == nil {
		t.Error("invalid config accepted")
	}
}
