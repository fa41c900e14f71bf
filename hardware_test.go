//go:build amd64 && !purego

package workbench_test

import (
	"os"
	"testing"

	"github.com/mechinterp/workbench/tensor"
)

// TestCIHasAVX512 makes the hardware skips of skipConditions (skips_test.go)
// visible: tests of the AVX-512 kernels skip on a CPU without AVX-512, so CI,
// whose machines have it, fails instead of letting them skip. Outside CI
// (CI not "true") it only logs what this machine runs.
func TestCIHasAVX512(t *testing.T) {
	if !tensor.HasAVX512() {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true on a CPU without AVX-512 (with BMI2): the AVX-512 kernel tests would skip; run CI on an AVX-512 machine")
		}
		t.Log("no AVX-512 here: the AVX-512 kernel tests skip on this machine")
	}
}
