//go:build !purego && amd64

package tensor

import "golang.org/x/sys/cpu"

// detectKernel picks the widest GEMM kernel this CPU and OS support. The
// AVX-512 kernels use AVX-512F (ZMM FMA, broadcasts, masked moves) and
// AVX-512VL (the same on YMM registers for narrow column tails);
// cpu.X86.HasAVX512F already requires OS support for the ZMM and mask
// register state.
func detectKernel() gemmKernel {
	switch {
	case hasAVX512():
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
	if hasAVX512() {
		ks = append(ks, kernelAVX512)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, kernelAVX2)
	}
	return append(ks, kernelGo)
}

// hasAVX512 reports whether the AVX-512 kernels can run here.
func hasAVX512() bool { return cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL }

// HasAVX512 reports whether packages with their own AVX-512 assembly (nn's
// attention kernels) may run it: the CPU and OS support AVX-512F and VL, as
// the GEMM kernels require, and BMI2. It is fixed for the life of the
// process and false under the purego tag.
func HasAVX512() bool { return hasAVX512() && cpu.X86.HasBMI2 }
