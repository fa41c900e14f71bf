//go:build ignore

// attention_gen_softmax.go is the part of the generator (attention_gen.go,
// which runs it) that writes the softmax row kernels: rows of up to 128
// columns held in registers, longer rows streamed in 16-column blocks, and
// the backward rows.

package main

import "fmt"

// tree combines regs with op into regs[0], pairwise.
func tree(op string, regs []string) {
	for step := 1; step < len(regs); step *= 2 {
		for i := 0; i+step < len(regs); i += 2 * step {
			p("%s %s, %s, %s", op, regs[i+step], regs[i], regs[i])
		}
	}
}

// softmaxRows: the causal row softmax of a T×T tile, any T ≥ 1.
func softmaxRows() {
	w.WriteString(`// func attnSoftmaxRows(p, s *float32, T, r0, r1 int)
//
// For each row r0 ≤ i < r1 ≤ T of the T×T tiles s and p (p may be s;
// T ≥ 1; other rows are not touched):
// p[i, j] = e^(s[i,j] − m)/Σ_{j'≤i} e^(s[i,j'] − m) for j ≤ i, m the row
// maximum over j ≤ i, and 0 for j > i; a row whose maximum is −Inf becomes
// zeros, and a NaN or +Inf score makes its row NaN. The exponential is
// tensor.ExpShift's; the sum is a float32 tree over blocks and lanes. Entries
// of s above the diagonal are not read. A row of c ≤ 8 blocks of 16 stays
// in Z22.. while it is reduced, exponentiated and scaled (the code is
// specialised for c = 1..8); a longer row (i ≥ 128) streams through memory
// in three passes: maximum, exponentials stored and summed (in lanes over
// blocks, then a tree), scaling.
TEXT ·attnSoftmaxRows(SB), NOSPLIT, $0-40
`)
	p("MOVQ p+0(FP), DI")
	p("MOVQ s+8(FP), SI")
	p("MOVQ T+16(FP), R8")
	expConsts()
	p("MOVL $0xff800000, AX // −Inf")
	p("VPBROADCASTD AX, Z13")
	p("VPXORD Z30, Z30, Z30")
	rowsPrologue("r0+24(FP)", "SI", "DI")
	v := func(b int) string { return fmt.Sprintf("Z%d", 22+b) }
	for c := 1; c <= attnRowBlocks; c++ {
		next, _ := rowsLoop(c, "r1+32(FP)")
		var regs []string
		for b := 0; b < c; b++ {
			regs = append(regs, v(b))
			if b < c-1 {
				p("VMOVUPS %d(SI), %s", 64*b, v(b))
			} else {
				p("VMOVAPS Z13, %s", v(b))
				p("VMOVUPS %d(SI), K1, %s", 64*b, v(b))
			}
		}
		// Maximum.
		p("VMOVAPS %s, Z0", v(0))
		for b := 1; b < c; b++ {
			p("VMAXPS %s, Z0, Z0", v(b))
		}
		reduce("VMAXPS", "Z0", "Z14")
		fin := fmt.Sprintf("finite%d", c)
		p("VUCOMISS X13, X0")
		p("JNE %s", fin)
		p("JPS %s", fin)
		zeroFill(0, "Z30", fmt.Sprintf("masked%d", c)) // a fully masked row
		p("JMP %s", next)
		label(fin)
		for b := 0; b < c; b++ {
			p("VSUBPS Z0, %s, Z14", v(b))
			expBody(v(b))
		}
		// Lanes past the diagonal hold e^(−Inf) = 0, or NaN in a NaN row:
		// the scaling below zeroes them either way.
		p("VMOVAPS %s, Z1", v(0))
		for b := 1; b < c; b++ {
			p("VADDPS %s, Z1, Z1", v(b))
		}
		reduce("VADDPS", "Z1", "Z14")
		p("VDIVSS X1, X8, X15")
		p("VBROADCASTSS X15, Z15")
		for b := 0; b < c-1; b++ {
			p("VMULPS Z15, %s, %s", v(b), v(b))
		}
		p("VMULPS.Z Z15, %s, K1, %s", v(c-1), v(c-1))
		rowStore(c, v, "Z30", next)
		rowsNext(c, next, "SI", "DI")
	}
	softmaxLongRows()
	label("end")
	p("VZEROUPPER")
	p("RET")
	w.WriteString("\n")
}

// longRowsStart opens the loop over the rows past the register-resident
// ones (i ≥ 16·attnRowBlocks, and i < r1, at r1 in the frame): R10 = the
// whole blocks left of the diagonal block, DX = the diagonal block's byte
// offset 64·R10, K1 = its valid lanes (i mod 16 + 1).
func longRowsStart(r1 string) {
	label(fmt.Sprintf("blocks%d", attnRowBlocks+1))
	label("longrow")
	p("CMPQ R9, %s", r1)
	p("JGE end")
	p("MOVQ R9, R10")
	p("SHRQ $4, R10")
	p("MOVQ R10, DX")
	p("SHLQ $6, DX")
	p("MOVQ R9, CX")
	p("ANDQ $15, CX")
	p("INCQ CX")
	laneMask("CX", "K1")
}

// blockLoop emits a loop over the whole blocks left of the diagonal one,
// byte offsets AX from start to DX (none if start ≥ DX), with body
// addressing block AX.
func blockLoop(lbl string, start int, body func()) {
	if start == 0 {
		p("XORQ AX, AX")
	} else {
		p("MOVQ $%d, AX", start)
	}
	p("CMPQ AX, DX")
	p("JGE %sdone", lbl)
	label(lbl)
	body()
	p("ADDQ $64, AX")
	p("CMPQ AX, DX")
	p("JLT %s", lbl)
	label(lbl + "done")
}

// longRowStore stores the finished diagonal block reg of a long row at
// DX(DI), then zero (register) over the row's remaining blocks, the tile's
// last under tailStore, and closes the row loop (advancing ptrs).
func longRowStore(reg, zero string, ptrs ...string) {
	p("LEAQ 1(R10), CX")
	p("CMPQ CX, R13")
	p("JEQ longlast")
	p("VMOVUPS %s, (DI)(DX*1)", reg)
	p("LEAQ 64(DI)(DX*1), AX")
	p("MOVQ R13, CX")
	p("SUBQ R10, CX")
	p("SUBQ $2, CX") // whole blocks after the diagonal one, before the last
	p("JZ longzlast")
	label("longz")
	p("VMOVUPS %s, (AX)", zero)
	p("ADDQ $64, AX")
	p("DECQ CX")
	p("JNZ longz")
	label("longzlast")
	tailStore(zero, "(AX)", "longztail")
	p("JMP longnext")
	label("longlast")
	tailStore(reg, "(DI)(DX*1)", "longtail")
	label("longnext")
	for _, r := range ptrs {
		p("ADDQ R12, %s", r)
	}
	p("INCQ R9")
	p("JMP longrow")
}

// softmaxLongRows: the rows of more than attnRowBlocks blocks, streamed
// through memory in three passes (maximum; exponentials stored and
// summed; scaling), the diagonal block kept in Z23.
func softmaxLongRows() {
	longRowsStart("r1+32(FP)")
	p("VMOVAPS Z13, Z0")
	p("VMOVUPS (SI)(DX*1), K1, Z0")
	blockLoop("longmax", 0, func() { p("VMAXPS (SI)(AX*1), Z0, Z0") })
	reduce("VMAXPS", "Z0", "Z14")
	p("VUCOMISS X13, X0")
	p("JNE longfinite")
	p("JPS longfinite")
	zeroFill(0, "Z30", "longmasked") // a fully masked row
	p("JMP longnext")
	label("longfinite")
	p("VPXORD Z1, Z1, Z1")
	blockLoop("longexp", 0, func() {
		p("VMOVUPS (SI)(AX*1), Z14")
		p("VSUBPS Z0, Z14, Z14")
		expBody("Z22")
		p("VADDPS Z22, Z1, Z1")
		p("VMOVUPS Z22, (DI)(AX*1)")
	})
	p("VMOVAPS Z13, Z14")
	p("VMOVUPS (SI)(DX*1), K1, Z14")
	p("VSUBPS Z0, Z14, Z14")
	expBody("Z23")
	p("VADDPS Z23, Z1, Z1")
	reduce("VADDPS", "Z1", "Z14")
	p("VDIVSS X1, X8, X15")
	p("VBROADCASTSS X15, Z15")
	blockLoop("longscale", 0, func() {
		p("VMULPS (DI)(AX*1), Z15, Z22")
		p("VMOVUPS Z22, (DI)(AX*1)")
	})
	p("VMULPS.Z Z15, Z23, K1, Z23")
	longRowStore("Z23", "Z30", "SI", "DI")
}

// softmaxBackRows: ds[i, j] = p[i, j]·(dp[i, j] − Σ_{j'≤i} p[i, j']·dp[i, j']).
func softmaxBackRows() {
	w.WriteString(`// func attnSoftmaxBackRows(ds, dp, p *float32, T, r0, r1 int)
//
// For each row r0 ≤ i < r1 ≤ T of the T×T tiles (T ≥ 1; other rows are
// not touched): ds[i, j] = p[i, j]·(dp[i, j] − dot_i) for j ≤ i, with
// dot_i = Σ_{j≤i} p[i, j]·dp[i, j] (one FMA chain over blocks, then a tree
// over lanes), and ds[i, j] = 0 for j > i. ds may be dp. Entries above the
// diagonal of dp and p are not read. Rows of c ≤ 8 blocks stay in
// registers (p in Z8.., dp in Z16..; specialised for c = 1..8); longer
// rows (i ≥ 128) stream through memory: the dot product, then the stores.
TEXT ·attnSoftmaxBackRows(SB), NOSPLIT, $0-48
`)
	p("MOVQ ds+0(FP), DI")
	p("MOVQ dp+8(FP), SI")
	p("MOVQ p+16(FP), BX")
	p("MOVQ T+24(FP), R8")
	p("VPXORD Z2, Z2, Z2")
	rowsPrologue("r0+32(FP)", "SI", "DI", "BX")
	pr := func(b int) string { return fmt.Sprintf("Z%d", 8+b) }
	dr := func(b int) string { return fmt.Sprintf("Z%d", 16+b) }
	for c := 1; c <= attnRowBlocks; c++ {
		next, _ := rowsLoop(c, "r1+40(FP)")
		for b := 0; b < c; b++ {
			if b < c-1 {
				p("VMOVUPS %d(BX), %s", 64*b, pr(b))
				p("VMOVUPS %d(SI), %s", 64*b, dr(b))
			} else {
				p("VMOVUPS.Z %d(BX), K1, %s", 64*b, pr(b))
				p("VMOVUPS.Z %d(SI), K1, %s", 64*b, dr(b))
			}
		}
		p("VMULPS %s, %s, Z0", dr(0), pr(0))
		for b := 1; b < c; b++ {
			p("VFMADD231PS %s, %s, Z0", dr(b), pr(b))
		}
		reduce("VADDPS", "Z0", "Z1")
		for b := 0; b < c; b++ {
			p("VSUBPS Z0, %s, %s", dr(b), dr(b))
			if b < c-1 {
				p("VMULPS %s, %s, %s", dr(b), pr(b), dr(b))
			} else {
				p("VMULPS.Z %s, %s, K1, %s", dr(b), pr(b), dr(b))
			}
		}
		rowStore(c, dr, "Z2", next)
		rowsNext(c, next, "SI", "DI", "BX")
	}
	// Rows of more than attnRowBlocks blocks, streamed through memory: the
	// dot product (the same chain as above: block 0, the middle blocks,
	// the diagonal block), then the stores, the diagonal block in Z16.
	longRowsStart("r1+40(FP)")
	p("VMOVUPS.Z (BX)(DX*1), K1, Z8")
	p("VMOVUPS.Z (SI)(DX*1), K1, Z16")
	p("VMOVUPS (BX), Z0")
	p("VMULPS (SI), Z0, Z0")
	blockLoop("longdot", 64, func() {
		p("VMOVUPS (BX)(AX*1), Z1")
		p("VFMADD231PS (SI)(AX*1), Z1, Z0")
	})
	p("VFMADD231PS Z16, Z8, Z0")
	reduce("VADDPS", "Z0", "Z1")
	blockLoop("longds", 0, func() {
		p("VMOVUPS (SI)(AX*1), Z1")
		p("VSUBPS Z0, Z1, Z1")
		p("VMULPS (BX)(AX*1), Z1, Z1")
		p("VMOVUPS Z1, (DI)(AX*1)")
	})
	p("VSUBPS Z0, Z16, Z16")
	p("VMULPS.Z Z16, Z8, K1, Z16")
	longRowStore("Z16", "Z2", "SI", "DI", "BX")
	label("end")
	p("VZEROUPPER")
	p("RET")
	w.WriteString("\n")
}
