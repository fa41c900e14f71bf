// Package tensor is Workbench's float32 numeric core: a minimal dense tensor
// (shape plus contiguous row-major data), an arena that lays memory out once,
// a BLAS-like row-major GEMM, and the vector kernels the layers in package nn
// are built from (softmax, GELU, LayerNorm statistics, axpy, ...).
//
// Shapes are written [rows, cols] in comments, row-major: element (i, j) of a
// matrix with leading dimension ld lives at index i*ld + j. Tensor.At and
// Tensor.Set read and write one element by its indices, checked; Sub and Row
// are views of a sub-tensor and of one innermost row.
//
// Kernels never allocate. A fast kernel always lives beside a readable pure-Go
// reference and is tested against it; the `purego` build tag forces the
// portable paths everywhere.
//
// Tensors and arenas are not safe for concurrent mutation; distinct tensors,
// even views of one arena, may be written by distinct goroutines.
//
// This package imports only the standard library and golang.org/x/sys/cpu.
package tensor
