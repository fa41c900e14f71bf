package nn

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mechinterp/workbench/tensor"
)

func TestEmbed(t *testing.T) {
	tests := []struct {
		tokens   []int32
		vocab, d int
	}{
		{[]int32{0}, 1, 1},
		{[]int32{2, 0, 2, 1}, 3, 4}, // a repeated token accumulates
		{[]int32{4, 4, 4}, 5, 3},
		{[]int32{1, 6, 0, 3, 5, 6, 2}, 7, 5},
	}
	for k, tt := range tests {
		seed := uint64(k + 1)
		rng := rand.New(rand.NewPCG(seed, seed))
		n := len(tt.tokens)
		table := randNormal(rng, tt.vocab*tt.d)
		g := randNormal(rng, n*tt.d)
		y := make([]float32, n*tt.d)
		EmbedForward(y, tt.tokens, table, tt.d)
		for i, tok := range tt.tokens {
			if got, want := y[i*tt.d:(i+1)*tt.d], table[int(tok)*tt.d:int(tok+1)*tt.d]; !slices.Equal(got, want) {
				t.Errorf("tokens %v: y[%d] = %v, want table[%d] = %v", tt.tokens, i, got, tok, want)
			}
		}
		dtable := randNormal(rng, len(table))
		dtable0 := slices.Clone(dtable)
		EmbedBackward(dtable, g, tt.tokens, tt.d)
		checkGrad(t, seed, "table", table, added(dtable, dtable0), func() float64 {
			EmbedForward(y, tt.tokens, table, tt.d)
			return tensor.Dot(g, y)
		}, linearGradTol)
	}
}

func TestPosEmbed(t *testing.T) {
	tests := []struct{ batch, pos, nCtx, d int }{
		{1, 1, 1, 1},
		{2, 3, 3, 4},
		{3, 2, 5, 3}, // pos < n_ctx: rows past pos get no gradient
		{4, 5, 7, 2},
	}
	for k, tt := range tests {
		seed := uint64(k + 1)
		rng := rand.New(rand.NewPCG(seed, seed))
		wpos := randNormal(rng, tt.nCtx*tt.d)
		g := randNormal(rng, tt.batch*tt.pos*tt.d)
		y := make([]float32, len(g))
		PosEmbedForward(y, wpos, tt.batch, tt.pos, tt.d)
		for b := range tt.batch {
			if got, want := y[b*tt.pos*tt.d:(b+1)*tt.pos*tt.d], wpos[:tt.pos*tt.d]; !slices.Equal(got, want) {
				t.Errorf("%+v: y[%d] = %v, want %v", tt, b, got, want)
			}
		}
		dwpos := randNormal(rng, len(wpos))
		dwpos0 := slices.Clone(dwpos)
		PosEmbedBackward(dwpos, g, tt.batch, tt.pos, tt.d)
		checkGrad(t, seed, "wpos", wpos, added(dwpos, dwpos0), func() float64 {
			PosEmbedForward(y, wpos, tt.batch, tt.pos, tt.d)
			return tensor.Dot(g, y)
		}, linearGradTol)
	}
}

func TestEmbedShapePanics(t *testing.T) {
	table := make([]float32, 3*2) // d_vocab 3, d 2
	y := make([]float32, 4)
	wantShapePanic(t, "token = d_vocab", func() { EmbedForward(y, []int32{0, 3}, table, 2) })
	wantShapePanic(t, "negative token", func() { EmbedForward(y, []int32{-1, 0}, table, 2) })
	wantShapePanic(t, "backward token = d_vocab", func() { EmbedBackward(table, y, []int32{3, 0}, 2) })
	wantShapePanic(t, "short y", func() { EmbedForward(y[:3], []int32{0, 1}, table, 2) })
	wantShapePanic(t, "zero d", func() { EmbedForward(y, []int32{0}, table, 0) })
	wantShapePanic(t, "short wpos", func() { PosEmbedForward(y, table[:3], 1, 2, 2) })
	wantShapePanic(t, "short dy", func() { PosEmbedBackward(table, y[:3], 1, 2, 2) })
}
