package nn_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/mechinterp/workbench/nn"
)

// TestAttentionForwardPairsSplit checks that AttentionForward cut into
// ranges of (batch, head) pairs, run concurrently (the race detector
// watches), gives AttentionForward's z, scores and pattern bit for bit,
// on the d_head = 16 fast path and off it.
func TestAttentionForwardPairsSplit(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for _, s := range []struct{ batch, pos, heads, dHead int }{{3, 20, 4, 16}, {2, 33, 3, 64}, {1, 5, 5, 8}} {
		name := fmt.Sprintf("batch=%d/pos=%d/heads=%d/d_head=%d", s.batch, s.pos, s.heads, s.dHead)
		n, np := s.batch*s.pos*s.heads*s.dHead, s.batch*s.heads*s.pos*s.pos
		q, k, v := attnRand(rng, n, 1), attnRand(rng, n, 1), attnRand(rng, n, 1)
		zW, sW, pW := make([]float32, n), make([]float32, np), make([]float32, np)
		nn.AttentionForward(zW, sW, pW, q, k, v, s.batch, s.pos, s.heads, s.dHead)
		pairs := s.batch * s.heads
		for _, parts := range []int{2, 3, pairs} {
			z, sc, p := make([]float32, n), make([]float32, np), make([]float32, np)
			var wg sync.WaitGroup
			for i := range parts {
				wg.Go(func() {
					nn.AttentionForwardPairs(z, sc, p, q, k, v, s.batch, s.pos, s.heads, s.dHead, i*pairs/parts, (i+1)*pairs/parts)
				})
			}
			wg.Wait()
			for _, c := range []struct {
				what      string
				got, want []float32
			}{{"z", z, zW}, {"scores", sc, sW}, {"pattern", p, pW}} {
				for i := range c.want {
					if c.got[i] != c.want[i] {
						t.Errorf("%s, %d parts: %s[%d] = %v, AttentionForward %v", name, parts, c.what, i, c.got[i], c.want[i])
						break
					}
				}
			}
		}
	}
}
