//go:build purego || !amd64

package tensor

// HasAVX512 reports whether packages with their own AVX-512 assembly may
// run it: never without assembly (the purego tag or another architecture).
func HasAVX512() bool { return false }
