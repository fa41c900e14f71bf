package tensor

// Runner runs the numbered tasks of one call, task(worker, i) for every i in
// [0, n), on up to Workers goroutines (the caller among them), and returns
// when all have finished. *workers.Pool is one; this package does not
// import it.
type Runner interface {
	Workers() int
	Run(n int, task func(worker, i int))
}

// Splitter runs large GEMMs on the goroutines of a Runner owned by the
// caller, cutting C into blocks of rows (or, for a short C, of columns)
// that the workers claim one at a time. Every element of C is computed by
// the same kernel over the same k blocks in the same order as the
// single-threaded call, so the results are bit-identical to Gemm, GemmBias
// and GemmBiasAdd. Small products run on the calling goroutine.
//
// A nil *Splitter, or one whose Runner has one worker, runs every call on
// the calling goroutine: parallelism is opt-in per caller (a data-parallel
// trainer that already keeps every core busy passes nil). A Splitter is
// used by one goroutine at a time and allocates nothing per call.
type Splitter struct {
	r    Runner
	task func(worker, i int) // s.runPart as a func value, made once
	call splitCall
}

// splitCall is the product being split and how.
type splitCall struct {
	op              splitOp
	transA, transB  bool
	m, n, k         int
	alpha, beta     float32
	a, b, c         []float32
	lda, ldb, ldc   int
	bias, add, out2 []float32
	byRows          bool
	step, size      int // rows or columns per part, and their total (m or n)
}

type splitOp int

const (
	splitGemm splitOp = iota
	splitBias
	splitBiasAdd
)

// Split sizes: a product of fewer than splitMinWork multiply-adds is not
// worth a hand-off (about 20 µs of work against a few µs of
// synchronisation); each worker gets about splitParts blocks so that a
// worker slowed by another process leaves its share to the others. Row
// blocks are whole 6-row register tiles; column blocks whole 64-column
// panels. C is cut by rows if it has splitMinRows rows a worker and is
// less than splitWide times wider than tall.
const (
	splitMinWork = 1 << 21
	splitParts   = 4
	splitRowTile = 6
	splitMinRows = 8 * splitRowTile
	splitWide    = 16
)

// NewSplitter returns a Splitter running on r.
func NewSplitter(r Runner) *Splitter {
	s := &Splitter{r: r}
	s.task = s.runPart
	return s
}

// Workers returns the number of goroutines s's products run on (1 for a
// nil Splitter).
func (s *Splitter) Workers() int {
	if s == nil || s.r == nil {
		return 1
	}
	return max(s.r.Workers(), 1)
}

// Gemm is tensor.Gemm split across s's workers; it panics as Gemm does.
func (s *Splitter) Gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if !s.worthIt(m, n, k) {
		Gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	s.run(splitCall{op: splitGemm, transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta,
		a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc})
}

// GemmBias is tensor.GemmBias split across s's workers; it panics as
// GemmBias does.
func (s *Splitter) GemmBias(m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, bias []float32, c []float32, ldc int) {
	if !s.worthIt(m, n, k) {
		GemmBias(m, n, k, alpha, a, lda, b, ldb, bias, c, ldc)
		return
	}
	checkGemm(false, false, m, n, k, a, lda, b, ldb, c, ldc)
	if len(bias) < n {
		GemmBias(m, n, k, alpha, a, lda, b, ldb, bias, c, ldc) // panics with its message
	}
	s.run(splitCall{op: splitBias, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, bias: bias})
}

// GemmBiasAdd is tensor.GemmBiasAdd split across s's workers; it panics as
// GemmBiasAdd does.
func (s *Splitter) GemmBiasAdd(m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, bias []float32, c []float32, ldc int, add, out2 []float32) {
	if !s.worthIt(m, n, k) {
		GemmBiasAdd(m, n, k, alpha, a, lda, b, ldb, bias, c, ldc, add, out2)
		return
	}
	checkGemm(false, false, m, n, k, a, lda, b, ldb, c, ldc)
	if len(bias) < n || !matOK(add, m, n, ldc) || !matOK(out2, m, n, ldc) {
		GemmBiasAdd(m, n, k, alpha, a, lda, b, ldb, bias, c, ldc, add, out2) // panics with its message
	}
	s.run(splitCall{op: splitBiasAdd, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc,
		bias: bias, add: add, out2: out2})
}

// worthIt reports whether an m×n×k product should be split.
func (s *Splitter) worthIt(m, n, k int) bool {
	return s.Workers() > 1 && m > 0 && n > 0 && k > 0 && m*n*k >= splitMinWork
}

// run splits call into parts and runs them on the workers.
func (s *Splitter) run(call splitCall) {
	w := s.Workers()
	// Row blocks each read all of B; column blocks all of A. A C much wider
	// than tall (an unembedding: B is d_model × d_vocab) is cut by columns
	// so that its large B streams from memory once.
	call.byRows = call.m >= w*splitMinRows && call.n < splitWide*call.m
	if call.byRows {
		call.size = call.m
		call.step = roundUp(ceilDiv(call.m, w*splitParts), splitRowTile)
	} else {
		call.size = call.n
		call.step = roundUp(ceilDiv(call.n, w*splitParts), gemmNC)
	}
	s.call = call
	s.r.Run(ceilDiv(call.size, call.step), s.task)
	s.call = splitCall{} // keep no reference to the caller's slices
}

// runPart computes part i of the current call: rows or columns
// [i·step, min((i+1)·step, size)) of C.
func (s *Splitter) runPart(_, i int) {
	c := &s.call
	lo := i * c.step
	hi := min(lo+c.step, c.size)
	if lo >= hi {
		return
	}
	m, n := c.m, c.n
	a, b, out, bias, add, out2 := c.a, c.b, c.c, c.bias, c.add, c.out2
	if c.byRows {
		m = hi - lo
		if c.transA {
			a = a[lo:]
		} else {
			a = a[lo*c.lda:]
		}
		out = out[lo*c.ldc:]
		if add != nil {
			add, out2 = add[lo*c.ldc:], out2[lo*c.ldc:]
		}
	} else {
		n = hi - lo
		if c.transB {
			b = b[lo*c.ldb:]
		} else {
			b = b[lo:]
		}
		out = out[lo:]
		if bias != nil {
			bias = bias[lo:]
		}
		if add != nil {
			add, out2 = add[lo:], out2[lo:]
		}
	}
	switch c.op {
	case splitBias:
		GemmBias(m, n, c.k, c.alpha, a, c.lda, b, c.ldb, bias, out, c.ldc)
	case splitBiasAdd:
		GemmBiasAdd(m, n, c.k, c.alpha, a, c.lda, b, c.ldb, bias, out, c.ldc, add, out2)
	default:
		Gemm(c.transA, c.transB, m, n, c.k, c.alpha, a, c.lda, b, c.ldb, c.beta, out, c.ldc)
	}
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func roundUp(a, m int) int { return ceilDiv(a, m) * m }
