//go:build unix

package testenv

import "syscall"

// ProcessCPUSeconds returns the user and system CPU time this process has
// used, for benchmarks that report throughput per CPU-second (a figure
// that other processes on a shared machine do not change).
func ProcessCPUSeconds() (float64, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime), true
}
