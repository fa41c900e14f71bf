//go:build !purego && amd64

package tensor

import "golang.org/x/sys/cpu"

// detectKernel picks the widest GEMM kernel this CPU and OS support. The
// AVX-512 kernels use only AVX-512F instructions (ZMM FMA, broadcasts and
// masked moves); cpu.X86.HasAVX512F already requires OS support for the
// ZMM and mask register state.
func detectKernel() gemmKernel {
	switch {
	case cpu.X86.HasAVX512F:
		return kernelAVX512
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		return kernelAVX2
	}
	return kernelGo
}

// gemmKernels lists every Gemm implementation this machine can run, fastest
// first.
func gemmKernels() []gemmKernel {
	var ks []gemmKernel
	if cpu.X86.HasAVX512F {
		ks = append(ks, kernelAVX512)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, kernelAVX2)
	}
	return append(ks, kernelGo)
}
