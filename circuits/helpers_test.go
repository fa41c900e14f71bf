package circuits

import "runtime"

// withProcs runs f with GOMAXPROCS set to n.
func withProcs[T any](n int, f func() T) T {
	old := runtime.GOMAXPROCS(n)
	defer runtime.GOMAXPROCS(old)
	return f()
}
