package circuits

import (
	"context"
	"fmt"
	"math/cmplx"
	"runtime"

	"gonum.org/v1/gonum/mat"

	"github.com/mechinterp/workbench/workers"
)

// FullOV returns the full OV circuit of one head, W_E·W_V·W_O·W_U
// [d_vocab, d_vocab_out]: row t is what attending to token t adds to the
// logits (Elhage et al. 2021, "OV circuit"). It is factored through d_head,
// A = W_E·W_V [d_vocab, d_head] and B = W_O·W_U [d_head, d_vocab_out], as
// TransformerLens's W_E @ OV @ W_U; forming A and B costs
// d_model·d_head·(d_vocab + d_vocab_out) multiply-adds. Shapes: W_E
// [d_vocab, d_model], W_V [d_model, d_head], W_O [d_head, d_model], W_U
// [d_model, d_vocab_out]. The error wraps mat.ErrShape if they do not chain
// (or mat.ErrZeroLength if one is missing).
func FullOV(wE, wV, wO, wU *mat.Dense) (*FactoredMatrix, error) {
	for _, m := range []*mat.Dense{wE, wV, wO, wU} {
		if m == nil || m.IsEmpty() {
			return nil, fmt.Errorf("circuits: full OV: missing matrix: %w", mat.ErrZeroLength)
		}
	}
	_, eC := wE.Dims()
	vR, vC := wV.Dims()
	oR, oC := wO.Dims()
	uR, _ := wU.Dims()
	if eC != vR || vC != oR || oC != uR {
		return nil, fmt.Errorf("circuits: full OV: W_E %s, W_V %s, W_O %s, W_U %s do not chain: %w",
			shape(wE), shape(wV), shape(wO), shape(wU), mat.ErrShape)
	}
	var a, b mat.Dense
	a.Mul(wE, wV)
	b.Mul(wO, wU)
	return factored(&a, &b), nil
}

// EigenPositivity returns Σλ / Σ|λ| over the eigenvalues λ of the square
// matrix M, computed through the small d_head×d_head matrix (see
// Eigenvalues); Σλ is the trace, which is real. For a full OV circuit, 1
// means the head copies (every eigenvalue positive), -1 that it
// anti-copies (Elhage et al. 2021). A zero matrix gives 0. The error wraps
// mat.ErrSquare if M is not square and ErrNoConvergence if LAPACK fails.
func EigenPositivity(m *FactoredMatrix) (float64, error) {
	small, err := m.smallSquare()
	if err != nil {
		return 0, err
	}
	vals, err := m.Eigenvalues()
	if err != nil {
		return 0, err
	}
	var abs float64
	for _, v := range vals {
		abs += cmplx.Abs(v)
	}
	if abs == 0 {
		return 0, nil
	}
	return mat.Trace(small) / abs, nil
}

// top1Rows and top1Cols bound the block of M that Top1Diagonal holds per
// worker: [64, 1024] float64, 512 KiB.
const top1Rows, top1Cols = 64, 1024

// Top1Diagonal returns the fraction of rows i of the square matrix M whose
// largest entry is the diagonal one, M[i, i] (the first maximum counts, as
// in argmax). For a full OV circuit this is the fraction of tokens that a
// head, attending to them, most boosts as the next token. M is computed one
// [64, 1024] block at a time from the factors, on runtime.GOMAXPROCS(0)
// workers, so a vocab×vocab matrix is never held; the cost is
// ldim·rdim·mdim multiply-adds. ctx is checked between row blocks. The error
// wraps mat.ErrSquare if M is not square, or is ctx.Err().
func Top1Diagonal(ctx context.Context, m *FactoredMatrix) (float64, error) {
	ldim, rdim := m.Dims()
	if ldim != rdim {
		return 0, fmt.Errorf("circuits: top-1 diagonal of %v: %w", m, mat.ErrSquare)
	}
	mdim := m.InnerDim()
	a, b := m.a.RawMatrix(), m.b.RawMatrix()
	nBlocks := (ldim + top1Rows - 1) / top1Rows
	hits := make([]int, nBlocks)
	nWorkers := runtime.GOMAXPROCS(0)
	bufs := make([][]float64, nWorkers)
	for i := range bufs {
		bufs[i] = make([]float64, top1Rows*top1Cols)
	}
	workers.For(nWorkers, nBlocks, func(worker, blk int) {
		if ctx.Err() != nil {
			return
		}
		i0 := blk * top1Rows
		rows := min(top1Rows, ldim-i0)
		var best [top1Rows]float64
		var arg [top1Rows]int
		for i := range arg {
			arg[i] = -1
		}
		buf := bufs[worker]
		for c0 := 0; c0 < rdim; c0 += top1Cols {
			cols := min(top1Cols, rdim-c0)
			gemm(rows, cols, mdim, a.Data[i0*a.Stride:], a.Stride, 1, b.Data[c0:], b.Stride, buf, cols)
			for i := range rows {
				for j, v := range buf[i*cols : (i+1)*cols] {
					if arg[i] < 0 || v > best[i] {
						best[i], arg[i] = v, c0+j
					}
				}
			}
		}
		for i := range rows {
			if arg[i] == i0+i {
				hits[blk]++
			}
		}
	})
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	total := 0
	for _, h := range hits {
		total += h
	}
	return float64(total) / float64(ldim), nil
}

// Ranked is one entry of a row: its column index and value.
type Ranked struct {
	Index int     `json:"index"`
	Value float64 `json:"value"`
}

// TopK returns the k largest entries of x in decreasing order (ties by
// increasing index), skipping NaNs; fewer if x has fewer. It runs in
// O(len(x)·log k) with a k-element heap.
func TopK(x []float64, k int) []Ranked {
	if k <= 0 {
		return nil
	}
	// h is a min-heap by "worse": the root is the worst entry kept.
	worse := func(p, q Ranked) bool { return p.Value < q.Value || (p.Value == q.Value && p.Index > q.Index) }
	h := make([]Ranked, 0, min(k, len(x)))
	down := func(i int) {
		for {
			c := 2*i + 1
			if c >= len(h) {
				return
			}
			if c+1 < len(h) && worse(h[c+1], h[c]) {
				c++
			}
			if !worse(h[c], h[i]) {
				return
			}
			h[i], h[c] = h[c], h[i]
			i = c
		}
	}
	for i, v := range x {
		if v != v { // NaN
			continue
		}
		e := Ranked{i, v}
		if len(h) < k {
			h = append(h, e)
			for j := len(h) - 1; j > 0; {
				p := (j - 1) / 2
				if !worse(h[j], h[p]) {
					break
				}
				h[j], h[p] = h[p], h[j]
				j = p
			}
			continue
		}
		if worse(h[0], e) {
			h[0] = e
			down(0)
		}
	}
	// Pop worst-first into the back of the result.
	out := make([]Ranked, len(h))
	for i := len(h) - 1; i >= 0; i-- {
		out[i] = h[0]
		h[0] = h[len(h)-1]
		h = h[:len(h)-1]
		down(0)
	}
	return out
}

// RowTopK returns the k largest entries of row i of M, computed from the
// factors (Row) without forming M: for a full OV circuit, the tokens that
// attending to token i most boosts. It panics with mat.ErrRowAccess if i is
// out of range.
func (m *FactoredMatrix) RowTopK(i, k int) []Ranked {
	return TopK(m.Row(nil, i), k)
}
