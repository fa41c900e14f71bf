package tensor

// gemm is the kernel Gemm dispatches to once arguments are checked. The
// assembly kernels replace it at run time where the CPU supports them.
var gemm = gemmGo

// Kernel names the GEMM kernel in use on this machine ("go", "avx2",
// "avx512").
func Kernel() string { return "go" }
