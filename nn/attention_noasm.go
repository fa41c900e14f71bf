//go:build purego || !amd64

package nn

// attnAVX512 is false without assembly (the purego tag or another
// architecture): attention runs on the portable kernels only.
const attnAVX512 = false

const attnNoAsm = "nn: attention assembly kernels not built"

// The AVX-512 kernels are never called in this build (attnAVX512 is false).

func attn16PackT(dst *float32, ldd int, src *float32, lds, n int) { panic(attnNoAsm) }

func attn16Lower(out *float32, ldo int, a *float32, lda int, bT *float32, ldb, T, r0, r1 int, alpha, fill float32) {
	panic(attnNoAsm)
}

func attnSoftmaxRows(p, s *float32, T, r0, r1 int) { panic(attnNoAsm) }

func attn16Mix(out *float32, ldo int, c *float32, T int, x *float32, ldx, full, add, r0, r1 int, alpha float32) {
	panic(attnNoAsm)
}

func attn16ColMix(out *float32, ldo int, c *float32, T int, x *float32, ldx, r0, r1, add int, alpha float32) {
	panic(attnNoAsm)
}

func attnSoftmaxBackRows(ds, dp, p *float32, T, r0, r1 int) { panic(attnNoAsm) }
