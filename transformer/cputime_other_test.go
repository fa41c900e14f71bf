//go:build !unix

package transformer

// processCPUSeconds is unavailable here: benchmarks report no per-CPU
// figure.
func processCPUSeconds() (float64, bool) { return 0, false }
