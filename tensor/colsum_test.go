package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestColSumAdd checks ColSumAdd bit for bit against colSumAddGo (both add
// float64 column sums in row order) on every column tail, with padded rows
// and a matrix slice of exactly the minimum length.
func TestColSumAdd(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, n := range []int{1, 2, 7, 8, 9, 15, 16, 17, 31, 48, 63, 64, 65, 100, 128, 130, 1031} {
		for _, rows := range []int{1, 2, 7, 1280} {
			for _, pad := range []int{0, 3} {
				lda := n + pad
				a := make([]float32, (rows-1)*lda+n)
				for i := range a {
					a[i] = float32(rng.NormFloat64() * 100)
				}
				dst := make([]float32, n+1) // dst[n] must stay untouched
				for j := range dst {
					dst[j] = float32(rng.NormFloat64())
				}
				want := append([]float32(nil), dst...)
				ColSumAdd(dst[:n], a, rows, lda)
				colSumAddGo(want[:n], a, rows, lda)
				name := fmt.Sprintf("n=%d rows=%d lda=%d", n, rows, lda)
				for j := range dst {
					if math.Float32bits(dst[j]) != math.Float32bits(want[j]) {
						t.Fatalf("%s: dst[%d] = %v, reference %v", name, j, dst[j], want[j])
					}
				}
			}
		}
	}
}

func TestColSumAddShapes(t *testing.T) {
	for _, c := range []struct {
		n, rows, lda, len int
	}{{4, -1, 4, 16}, {4, 2, 3, 16}, {4, 2, 4, 7}} {
		func() {
			defer func() {
				if _, ok := recover().(ShapeError); !ok {
					t.Errorf("%+v: no ShapeError", c)
				}
			}()
			ColSumAdd(make([]float32, c.n), make([]float32, c.len), c.rows, c.lda)
		}()
	}
	ColSumAdd(nil, nil, 0, 0) // empty: nothing to do
}

func BenchmarkColSumAdd(b *testing.B) {
	const rows, n = 1280, 64
	a := make([]float32, rows*n)
	dst := make([]float32, n)
	for _, k := range []struct {
		name string
		f    func()
	}{
		{"go", func() { colSumAddGo(dst, a, rows, n) }},
		{"dispatch", func() { ColSumAdd(dst, a, rows, n) }},
	} {
		b.Run(fmt.Sprintf("rows=%d/n=%d/%s", rows, n, k.name), func(b *testing.B) {
			for b.Loop() {
				k.f()
			}
		})
	}
}
