//go:build !purego && amd64

package nn

import "github.com/mechinterp/workbench/tensor"

//go:generate go run attention_gen.go attention_gen_softmax.go

// attnAVX512 reports whether the AVX-512 attention kernels
// (attention_amd64.s) can run on this CPU: they use AVX-512F and VL (ZMM
// registers, masks, embedded broadcasts) and BMI2 (BZHI for lane masks).
// It is fixed at start-up.
var attnAVX512 = tensor.HasAVX512()

// The kernels are documented in attention_amd64.s; attention_fast.go says
// how they compose.

//go:noescape
func attn16PackT(dst *float32, ldd int, src *float32, lds, n int)

//go:noescape
func attn16Lower(out *float32, ldo int, a *float32, lda int, bT *float32, ldb, T, r0, r1 int, alpha, fill float32)

//go:noescape
func attnSoftmaxRows(p, s *float32, T, r0, r1 int)

//go:noescape
func attn16Mix(out *float32, ldo int, c *float32, T int, x *float32, ldx, full, add, r0, r1 int, alpha float32)

//go:noescape
func attn16ColMix(out *float32, ldo int, c *float32, T int, x *float32, ldx, r0, r1, add int, alpha float32)

//go:noescape
func attnSoftmaxBackRows(ds, dp, p *float32, T, r0, r1 int)
