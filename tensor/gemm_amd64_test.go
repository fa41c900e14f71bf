//go:build !purego && amd64

package tensor

import (
	"testing"

	"golang.org/x/sys/cpu"
)

// TestGemmDispatch checks that the kernel chosen from CPUID is the widest
// this CPU supports: avx512 on the AVX-512 machines we develop on.
func TestGemmDispatch(t *testing.T) {
	want := "go"
	switch {
	case cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL:
		want = "avx512"
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		want = "avx2"
	}
	if got := Kernel(); got != want {
		t.Errorf("Kernel() = %q, want %q (AVX512F=%v AVX512VL=%v AVX2=%v FMA=%v)", got, want, cpu.X86.HasAVX512F, cpu.X86.HasAVX512VL, cpu.X86.HasAVX2, cpu.X86.HasFMA)
	}
	if want != "avx512" {
		t.Logf("this CPU lacks AVX-512F/VL; the AVX-512 kernels are not tested here")
	}
}
