package tensor

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// goRunner is a Runner that starts one goroutine per worker for each Run,
// handing out tasks in order, so that the race detector sees real
// concurrency. (Package workers has the persistent pool; tensor does not
// import it.)
type goRunner struct{ workers int }

func (r goRunner) Workers() int { return r.workers }

func (r goRunner) Run(n int, task func(worker, i int)) {
	var mu sync.Mutex
	next := 0
	var wg sync.WaitGroup
	for w := range r.workers {
		wg.Go(func() {
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= n {
					return
				}
				task(w, i)
			}
		})
	}
	wg.Wait()
}

// inlineRunner claims to have workers goroutines but runs every task on the
// caller, counting the tasks: it shows how a call was cut, and allocates
// nothing.
type inlineRunner struct {
	workers int
	tasks   *int
}

func (r inlineRunner) Workers() int { return r.workers }

func (r inlineRunner) Run(n int, task func(worker, i int)) {
	*r.tasks += n
	for i := range n {
		task(i%r.workers, i)
	}
}

// TestSplitterMatchesSerial checks that every split product equals the
// single-threaded call bit for bit, for row splits (tall C), column splits
// (short, wide C: the unembedding at batch 1), ragged edges and
// transposes, and with the bias and residual epilogues.
func TestSplitterMatchesSerial(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 13))
	cases := []struct{ m, n, k int }{
		{1024, 768, 768}, // rows
		{1000, 130, 300}, // rows, ragged, two k blocks
		{7, 5000, 384},   // columns
		{3, 1000, 1000},  // columns, ragged, four k blocks
		{130, 130, 130},  // rows, just above the threshold
		{10, 10, 10},     // too small: serial
		{97, 2053, 17},   // columns (97 < 2·48 rows is not enough), ragged
		{512, 50257, 64}, // a short unembedding
	}
	for _, workers := range []int{2, 3} {
		s := NewSplitter(goRunner{workers})
		for _, tc := range cases {
			for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
				name := fmt.Sprintf("workers=%d m=%d n=%d k=%d transA=%v transB=%v", workers, tc.m, tc.n, tc.k, tr[0], tr[1])
				a, lda, b, ldb, c, ldc := gemmOperands(rng, gemmCase{transA: tr[0], transB: tr[1], m: tc.m, n: tc.n, k: tc.k, padA: 1, padB: 2, padC: 3})
				want := append([]float32(nil), c...)
				Gemm(tr[0], tr[1], tc.m, tc.n, tc.k, 0.5, a, lda, b, ldb, 0.25, want, ldc)
				s.Gemm(tr[0], tr[1], tc.m, tc.n, tc.k, 0.5, a, lda, b, ldb, 0.25, c, ldc)
				splitSame(t, name+" Gemm", c, want)
			}
			name := fmt.Sprintf("workers=%d m=%d n=%d k=%d", workers, tc.m, tc.n, tc.k)
			a, lda, b, ldb, c, ldc := gemmOperands(rng, gemmCase{m: tc.m, n: tc.n, k: tc.k, padC: 1})
			bias := randMat(rng, 1, tc.n, tc.n)
			want := append([]float32(nil), c...)
			GemmBias(tc.m, tc.n, tc.k, 1, a, lda, b, ldb, bias, want, ldc)
			s.GemmBias(tc.m, tc.n, tc.k, 1, a, lda, b, ldb, bias, c, ldc)
			splitSame(t, name+" GemmBias", c, want)

			add := randMat(rng, tc.m, tc.n, ldc)
			out2, want2 := make([]float32, len(add)), make([]float32, len(add))
			GemmBiasAdd(tc.m, tc.n, tc.k, 1, a, lda, b, ldb, bias, want, ldc, add, want2)
			s.GemmBiasAdd(tc.m, tc.n, tc.k, 1, a, lda, b, ldb, bias, c, ldc, add, out2)
			splitSame(t, name+" GemmBiasAdd C", c, want)
			splitSame(t, name+" GemmBiasAdd out2", out2, want2)
		}
	}
}

func splitSame(t *testing.T, name string, got, want []float32) {
	t.Helper()
	for i := range want {
		if got[i] != want[i] && !(got[i] != got[i] && want[i] != want[i]) {
			t.Errorf("%s: element %d = %v, single-threaded %v", name, i, got[i], want[i])
			return
		}
	}
}

// TestSplitterCuts checks that large products are cut into several parts
// (so that more than one worker computes them), small ones and a nil
// Splitter run on the caller, and that a split call allocates nothing.
func TestSplitterCuts(t *testing.T) {
	tasks := 0
	s := NewSplitter(inlineRunner{workers: 2, tasks: &tasks})
	const m, n, k = 256, 768, 768
	a, b, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
	bias := make([]float32, n)
	if allocs := testing.AllocsPerRun(3, func() { s.GemmBias(m, n, k, 1, a, k, b, n, bias, c, n) }); allocs != 0 {
		t.Errorf("a split GemmBias allocates %v times", allocs)
	}
	if tasks < 2*4 {
		t.Errorf("a %d×%d×%d product ran as %d tasks in 4 calls, want at least 2 a call", m, n, k, tasks)
	}
	tasks = 0
	s.Gemm(false, false, 8, 8, 8, 1, a, k, b, n, 0, c, n)
	if tasks != 0 {
		t.Errorf("an 8×8×8 product was split into %d tasks", tasks)
	}
	var none *Splitter
	none.Gemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n) // runs on the caller
	if none.Workers() != 1 {
		t.Errorf("a nil Splitter has %d workers, want 1", none.Workers())
	}
}
