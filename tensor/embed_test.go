package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestEmbedPos checks EmbedPos bit for bit against the portable loop on
// every tail width.
func TestEmbedPos(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 15))
	for _, n := range []int{1, 5, 16, 17, 64, 100, 1031} {
		const vocab, batch, npos = 9, 3, 7
		table, pos := randMat(rng, vocab, n, n), randMat(rng, npos+2, n, n)
		tokens := make([]int32, batch*npos)
		for i := range tokens {
			tokens[i] = int32(rng.IntN(vocab))
		}
		want, got := make([]float32, batch*npos*n+1), make([]float32, batch*npos*n+1)
		got[len(got)-1] = 42
		embedPosGo(want, table, pos, tokens, batch, npos, n)
		EmbedPos(got, table, pos, tokens, batch, npos, n)
		for i := range want[:batch*npos*n] {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("n=%d: dst[%d] = %v, want %v", n, i, got[i], want[i])
			}
		}
		if got[len(got)-1] != 42 {
			t.Fatalf("n=%d: wrote past dst", n)
		}
	}
	defer func() {
		if _, ok := recover().(ShapeError); !ok {
			t.Errorf("token out of range: no ShapeError")
		}
	}()
	EmbedPos(make([]float32, 4), make([]float32, 4), make([]float32, 2), []int32{0, 2}, 1, 2, 2)
}
