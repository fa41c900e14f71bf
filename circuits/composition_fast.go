package circuits

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync/atomic"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack/lapack64"
	"gonum.org/v1/gonum/mat"

	"github.com/mechinterp/workbench/workers"
)

// The fast path of CompositionScores. Shapes: d = d_model, r = d_head.
//
// Every d×d circuit matrix is P·Sᵀ with P, S tall [d, r]:
//
//	OV  = W_V·W_O    P = W_V, S = W_Oᵀ
//	QK  = W_Q·W_Kᵀ   P = W_Q, S = W_K
//	QKᵀ = W_K·W_Qᵀ   P = W_K, S = W_Q
//
// For a writer P₁S₁ᵀ (an OV) and a reader P₂S₂ᵀ,
//
//	‖P₁S₁ᵀ·P₂S₂ᵀ‖_F² = tr(S₁(P₁ᵀP₁)S₁ᵀ · P₂(S₂ᵀS₂)P₂ᵀ) = ⟨T₁T₁ᵀ, T₂T₂ᵀ⟩_F
//
// with T₁ = S₁·chol(P₁ᵀP₁) and T₂ = P₂·chol(S₂ᵀS₂), both [d, r], and the
// norms are ‖P₁S₁ᵀ‖_F = ‖T₁‖_F, ‖P₂S₂ᵀ‖_F = ‖T₂‖_F. So each head is reduced
// to four tall factors (one as writer, three as reader) through r×r Gram
// matrices, and each score to the Frobenius inner product of two symmetric
// d×d Gram matrices of rank r.
//
// That inner product costs d(d+1)/2 multiply-adds per pair against d·r² for
// ‖T₁ᵀT₂‖_F² directly (the per-pair r×r cross products), 11× less at d=768,
// r=64, once each head's Gram matrix is formed (d²r/2 per factor, shared by
// all its pairs). For GPT-2 small that is 19 G multiply-adds in all, against
// 90 G for the cross products.
//
// The Gram matrices are never held whole: their upper triangle is swept in
// blocks of blockRows rows, [a0, a0+blockRows) × [a0, d). For each block,
// phase A forms every writer's piece (gemm8x8, k = r); then phase B, one
// task per reader layer l2, forms the pieces of l2's heads in all three
// modes and contracts them (dot4x4) with the pieces of every writer in
// layers before l2. Entries right of the diagonal square of a block stand
// for their mirror images too, so the readers' copies of them are doubled.
// A score accumulates over the blocks in block order, each block's share
// computed by one task, so the result does not depend on the number of
// workers. The factors are stored as packed panels (compPlan) because the
// sweep is otherwise bound by memory: every block streams every factor.

// panelWidth is the micro-kernel's tile width: factors are stored as
// panels of 8 columns (8 rows of T).
const panelWidth = 8

// blockRows is the height of the blocks of Gram rows swept at once: the
// factors stream from memory once per block, and the writers' pieces of a
// block (nW × blockRows × d_model float64, 13 MB for GPT-2 small) should
// stay in the last-level cache while every reader layer reads them.
const blockRows = 16

// dotChunk is the contraction length per dot4x4 call (4 KiB per row), so
// that one chunk of every writer's piece stays in L2.
const dotChunk = 512

// compPlan holds the tall factors T [d, r] of every head, packed: d padded
// with zero rows to dPad, a multiple of panelWidth, and stored as dPad/8
// panels, panel j holding rows [8j, 8j+8) of T transposed, [r][8]
// row-major, so that the micro-kernel streams each panel contiguously.
type compPlan struct {
	modelDims
	dPad     int
	nW       int            // writers: heads of layers 0..nLayers-2, layer-major
	writer   [][]float64    // [nW] packed T₁
	reader   [3][][]float64 // [mode Q, K, V][(l-1)*nHeads+h] packed T₂, layers 1..nLayers-1
	wNorm    []float64      // ‖OV‖_F of each writer
	rNorm    [3][]float64   // ‖QK‖_F, ‖QK‖_F, ‖OV‖_F of each reader
	failures atomic.Int32   // factorisations that did not converge
}

func compositionScoresFast(ctx context.Context, heads [][]head64, dims modelDims) (*Composition, error) {
	out := newComposition(dims.nLayers, dims.nHeads)
	if dims.nLayers < 2 {
		return out, nil
	}
	p, err := newCompPlan(ctx, heads, dims)
	if err != nil {
		return nil, err
	}
	sums, err := p.contract(ctx, blockRows)
	if err != nil {
		return nil, err
	}
	H := dims.nHeads
	modes := out.modes()
	for l2 := 1; l2 < dims.nLayers; l2++ {
		nw := l2 * H
		for m := range 3 {
			for h2 := range H {
				rn := p.rNorm[m][(l2-1)*H+h2]
				row := sums[l2][(m*H+h2)*round4(nw):]
				for w := range nw {
					if den := p.wNorm[w] * rn; den != 0 {
						modes[m][w/H][w%H][l2][h2] = math.Sqrt(max(row[w], 0)) / den
					}
				}
			}
		}
	}
	return out, nil
}

func round4(n int) int { return (n + 3) &^ 3 }

func round8(n int) int { return (n + 7) &^ 7 }

// newCompPlan computes every head's tall factors and norms.
func newCompPlan(ctx context.Context, heads [][]head64, dims modelDims) (*compPlan, error) {
	L, H, d, r := dims.nLayers, dims.nHeads, dims.dModel, dims.dHead
	p := &compPlan{modelDims: dims, dPad: round8(d), nW: (L - 1) * H}
	size := r * p.dPad
	slab := make([]float64, 4*p.nW*size)
	next := func() []float64 { s := slab[:size:size]; slab = slab[size:]; return s }
	p.writer = make([][]float64, p.nW)
	for w := range p.writer {
		p.writer[w] = next()
	}
	p.wNorm = make([]float64, p.nW)
	for m := range p.reader {
		p.reader[m] = make([][]float64, p.nW)
		for j := range p.reader[m] {
			p.reader[m][j] = next()
		}
		p.rNorm[m] = make([]float64, p.nW)
	}

	nWorkers := runtime.GOMAXPROCS(0)
	scratch := make([]*factorScratch, nWorkers)
	for i := range scratch {
		scratch[i] = newFactorScratch(r, p.dPad)
	}
	workers.For(nWorkers, L*H, func(worker, i int) {
		if ctx.Err() == nil {
			p.factorHead(scratch[worker], heads[i/H][i%H], i/H, i%H)
		}
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if n := p.failures.Load(); n > 0 {
		return nil, fmt.Errorf("circuits: composition scores: %d Gram eigendecompositions: %w", n, ErrNoConvergence)
	}
	return p, nil
}

// factorScratch is one worker's buffers for factorHead.
type factorScratch struct {
	qt, kt, vt, ot []float64 // W_Qᵀ, W_Kᵀ, W_Vᵀ, W_O as [rPad, dPad]
	gram, save     []float64 // [rPad, rPad]
}

func newFactorScratch(r, dPad int) *factorScratch {
	rPad := round4(r)
	n := rPad * dPad
	return &factorScratch{
		qt: make([]float64, n), kt: make([]float64, n), vt: make([]float64, n), ot: make([]float64, n),
		gram: make([]float64, rPad*rPad), save: make([]float64, rPad*rPad),
	}
}

// factorHead fills the factors of head (l, h): as a writer if l is not the
// last layer, as a reader in each mode if l is not the first.
func (p *compPlan) factorHead(s *factorScratch, w head64, l, h int) {
	transposeInto(s.qt, p.dPad, w.Q)
	transposeInto(s.kt, p.dPad, w.K)
	transposeInto(s.vt, p.dPad, w.V)
	copyInto(s.ot, p.dPad, w.O)
	if l < p.nLayers-1 {
		i := l*p.nHeads + h
		p.wNorm[i] = p.factor(s, p.writer[i], s.vt, s.ot) // OV: P = W_V, S = W_Oᵀ
	}
	if l > 0 {
		j := (l-1)*p.nHeads + h
		p.rNorm[0][j] = p.factor(s, p.reader[0][j], s.kt, s.qt) // QK: P = W_Q, S = W_K
		p.rNorm[1][j] = p.factor(s, p.reader[1][j], s.qt, s.kt) // QKᵀ: P = W_K, S = W_Q
		p.rNorm[2][j] = p.factor(s, p.reader[2][j], s.ot, s.vt) // OV: P = W_V, S = W_Oᵀ
	}
}

// factor sets dst to Fᵀ·xt, packed (see compPlan), where F·Fᵀ = gt·gtᵀ (gt,
// xt [rPad, dPad] transposed tall matrices), and returns ‖dst‖_F.
func (p *compPlan) factor(s *factorScratch, dst, gt, xt []float64) float64 {
	r, dPad := p.dHead, p.dPad
	rPad := round4(r)
	clear(s.gram)
	gramRows(s.gram, gt, rPad, dPad)
	g := s.gram
	if rPad != r { // drop the zero padding: [r, r] with stride r
		for i := range r {
			copy(g[i*r:i*r+r], g[i*rPad:i*rPad+r])
		}
		g = g[:r*r]
	}
	lower, ok := sqrtFactor(g, s.save, r)
	if !ok {
		p.failures.Add(1)
		return 0
	}
	// Fᵀ[i][q] = g[q*r+i]; with F lower triangular, rows i0.. of Fᵀ are zero
	// before column i0. Panel j of dst holds columns [8j, 8j+8) of Fᵀ·xt.
	for i0 := 0; i0 < r; i0 += panelWidth {
		m := min(panelWidth, r-i0)
		k0 := 0
		if lower {
			k0 = i0
		}
		for j := 0; j < dPad; j += panelWidth {
			gemm(m, panelWidth, r-k0, g[k0*r+i0:], 1, r, xt[k0*dPad+j:], dPad, dst[j*r+i0*panelWidth:], panelWidth)
		}
	}
	var n2 float64
	for _, v := range dst {
		n2 += v * v
	}
	return math.Sqrt(n2)
}

// sqrtFactor overwrites g, a symmetric positive semi-definite [r, r] matrix,
// with F such that F·Fᵀ = g: its lower Cholesky factor (lower = true) or, if
// g is singular, E·√Λ from its eigendecomposition g = E·Λ·Eᵀ. save is
// scratch of at least r² elements. ok is false if the eigendecomposition
// fails.
func sqrtFactor(g, save []float64, r int) (lower, ok bool) {
	copy(save, g[:r*r])
	if _, ok := lapack64.Potrf(blas64.Symmetric{N: r, Stride: r, Data: g, Uplo: blas.Lower}); ok {
		for i := range r {
			clear(g[i*r+i+1 : i*r+r])
		}
		return true, true
	}
	var es mat.EigenSym
	if !es.Factorize(mat.NewSymDense(r, slices.Clone(save[:r*r])), true) {
		return false, false
	}
	vals := es.Values(nil)
	var e mat.Dense
	es.VectorsTo(&e)
	for i := range r {
		for j, lam := range vals {
			g[i*r+j] = e.At(i, j) * math.Sqrt(max(lam, 0))
		}
	}
	return false, true
}

// gramRows adds x·xᵀ to dst [rows, rows] for x [rows, cols] row-major, rows
// a multiple of 4; only tiles on or above the diagonal are computed.
func gramRows(dst, x []float64, rows, cols int) {
	var c [16]float64
	for i := 0; i < rows; i += 4 {
		for j := i; j < rows; j += 4 {
			dot4x4(cols, x[i*cols:], cols, x[j*cols:], cols, &c)
			for a := range 4 {
				for b := range 4 {
					dst[(i+a)*rows+j+b] += c[a*4+b]
					if j != i {
						dst[(j+b)*rows+i+a] += c[a*4+b]
					}
				}
			}
		}
	}
}

// transposeInto sets dst [c, ld] to xᵀ for x [r, c], leaving dst's padding
// untouched (zero).
func transposeInto(dst []float64, ld int, x *mat.Dense) {
	raw := x.RawMatrix()
	for i := range raw.Rows {
		row := raw.Data[i*raw.Stride : i*raw.Stride+raw.Cols]
		for j, v := range row {
			dst[j*ld+i] = v
		}
	}
}

// copyInto sets dst [r, ld] to x [r, c].
func copyInto(dst []float64, ld int, x *mat.Dense) {
	raw := x.RawMatrix()
	for i := range raw.Rows {
		copy(dst[i*ld:i*ld+raw.Cols], raw.Data[i*raw.Stride:i*raw.Stride+raw.Cols])
	}
}

// contract sweeps the Gram matrices' upper triangle block by block and
// returns, for each reader layer l2 ≥ 1, the squared norms ‖OV₁·R₂‖_F² as
// sums[l2][(m*nHeads+h2)*round4(l2*nHeads)+w] for mode m, reader head h2 and
// every writer w (layer-major) in layers before l2.
func (p *compPlan) contract(ctx context.Context, blockRows int) ([][]float64, error) {
	L, H, dPad := p.nLayers, p.nHeads, p.dPad
	nR := 3 * H // readers per layer: Q, K, V modes
	sums := make([][]float64, L)
	for l2 := 1; l2 < L; l2++ {
		sums[l2] = make([]float64, round4(nR)*round4(l2*H))
	}
	ld := blockRows * dPad // row stride of the flattened pieces
	wb := make([]float64, round4(p.nW)*ld)
	nWorkers := runtime.GOMAXPROCS(0)
	rb := make([][]float64, nWorkers)
	for i := range rb {
		rb[i] = make([]float64, round4(nR)*ld)
	}
	for a0 := 0; a0 < dPad; a0 += blockRows {
		if err := ctx.Err(); err != nil {
			return sums, err
		}
		rows := min(blockRows, dPad-a0)
		ncol := dPad - a0
		n := rows * ncol // length of one piece
		// Phase A: every writer's piece.
		workers.For(nWorkers, p.nW, func(_, w int) {
			p.piece(wb[w*ld:], p.writer[w], a0, rows, false)
		})
		// Phase B: each reader layer, latest (most writers) first: its
		// readers' pieces, contracted with the earlier writers' pieces.
		workers.For(nWorkers, L-1, func(worker, i int) {
			l2 := L - 1 - i
			buf := rb[worker]
			for m := range 3 {
				for h := range H {
					p.piece(buf[(m*H+h)*ld:], p.reader[m][(l2-1)*H+h], a0, rows, true)
				}
			}
			nw := round4(l2 * H)
			for e0 := 0; e0 < n; e0 += dotChunk {
				dots(round4(nR), nw, min(dotChunk, n-e0), buf[e0:], ld, wb[e0:], ld, sums[l2], nw)
			}
		})
	}
	return sums, nil
}

// piece sets dst [rows, ncol] (row-major, ncol = dPad-a0) to the block
// [a0, a0+rows) × [a0, dPad) of T·Tᵀ for the packed factor t, doubling the
// entries right of the rows×rows diagonal square when double is set.
func (p *compPlan) piece(dst, t []float64, a0, rows int, double bool) {
	r, dPad := p.dHead, p.dPad
	ncol := dPad - a0
	panel := r * panelWidth
	for j := a0; j < dPad; j += panelWidth {
		b := t[(j/panelWidth)*panel:]
		for i := 0; i < rows; i += panelWidth {
			gemm8x8(r, t[((a0+i)/panelWidth)*panel:], 1, panelWidth, b, panelWidth, dst[i*ncol+j-a0:], ncol)
		}
	}
	if !double {
		return
	}
	for i := range rows {
		off := dst[i*ncol+rows : (i+1)*ncol]
		for j := range off {
			off[j] *= 2
		}
	}
}
