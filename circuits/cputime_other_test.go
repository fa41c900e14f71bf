//go:build !unix

package circuits

// processCPU is unavailable on this platform.
func processCPU() (float64, bool) { return 0, false }
