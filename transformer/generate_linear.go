package transformer

import (
	"github.com/mechinterp/workbench/nn"
	"github.com/mechinterp/workbench/workers"
)

// linear computes a decoding step's matrix products y = x·W + b, with
// nn.LinearForward. A step has a few rows (one per sequence), so a product
// is bound by reading W once from memory; with a pool, its workers split
// the output columns and each streams its own columns of W, which uses the
// memory bandwidth of several cores. Each output element is computed by the
// same kernel over the same k order whichever worker computes it.
type linear struct {
	pool *workers.Pool // nil: the calling goroutine alone
	task func(worker, i int)

	// The product in flight.
	y, x, w, b     []float32
	rows, in, out  int
	chunk, nChunks int
}

// Below linearMinSplit multiply-adds a product runs on the caller: handing
// it to the workers costs more than it saves.
const linearMinSplit = 1 << 15

// linearChunkAlign keeps column chunks whole multiples of the GEMM
// kernels' widest panel (64 floats).
const linearChunkAlign = 64

// forward computes y [rows, out] = x [rows, in] · w [in, out] + b [out]
// (b may be nil), as nn.LinearForward.
func (l *linear) forward(y, x, w, b []float32, rows, in, out int) {
	if l.pool == nil || in*out < linearMinSplit {
		nn.LinearForward(y, x, w, b, rows, in, out)
		return
	}
	parts := l.pool.Workers()
	chunk := (out + parts - 1) / parts
	chunk = (chunk + linearChunkAlign - 1) / linearChunkAlign * linearChunkAlign
	l.y, l.x, l.w, l.b = y, x, w, b
	l.rows, l.in, l.out = rows, in, out
	l.chunk, l.nChunks = chunk, (out+chunk-1)/chunk
	l.pool.Run(l.nChunks, l.task)
	l.y, l.x, l.w, l.b = nil, nil, nil, nil
}

// run computes chunk i of the columns of the product in flight.
func (l *linear) run(_, i int) {
	j0 := i * l.chunk
	j1 := min(j0+l.chunk, l.out)
	var b []float32
	if l.b != nil {
		b = l.b[j0:]
	}
	nn.LinearForwardStrided(l.y[j0:], l.x, l.w[j0:], b, l.rows, l.in, j1-j0, l.out, l.in, l.out)
}
