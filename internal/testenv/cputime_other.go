//go:build !unix

package testenv

// ProcessCPUSeconds is unavailable here: benchmarks report no per-CPU
// figure.
func ProcessCPUSeconds() (float64, bool) { return 0, false }
