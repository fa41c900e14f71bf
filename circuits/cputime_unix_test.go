//go:build unix

package circuits

import "syscall"

// processCPU returns the user and system CPU time the process has used, in
// seconds, so that benchmarks can report it beside wall time on a shared
// machine.
func processCPU() (float64, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9, true
}
