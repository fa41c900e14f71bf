// Package paritytest finds the shared numerical parity fixtures: models and
// the values an independent float64 reference computed from them, kept in
// ../shared/testdata/parity beside the repository, outside it. It is for
// tests only, and it imports only the standard library, so that a test of
// any package, checkpoint and transformer included, can use it.
//
// Dir is the one place where a test of this repository may skip: the
// fixtures are the only input a test needs from outside the repository.
// It skips, with a message, only when they are absent and CI is not
// "true"; under CI=true their absence fails the test. The root test
// TestSkipsAreChecked enforces that no other skip exists.
package paritytest

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the directory of the shared parity fixtures,
// ../shared/testdata/parity beside the module root, found by walking up
// from the test's working directory to the nearest go.mod. When the
// directory is absent it skips t with a message naming the path, or fails
// t when the environment variable CI is "true".
func Dir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("paritytest: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("paritytest: no go.mod above the test's directory")
		}
		dir = parent
	}
	p := filepath.Join(dir, "..", "shared", "testdata", "parity")
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("paritytest: parity fixtures missing at %s, and CI=true requires them: %v", p, err)
		}
		t.Skipf("paritytest: parity fixtures not found at %s (they live in ../shared beside the repository; CI=true fails here): %v", p, err)
	}
	return p
}

// Model returns the folder of the named fixture model inside Dir(t)
// (attn2_induction, full2_ln_gelu, attn2_long, …). A missing model inside
// fixtures that are present fails t: that is never a reason to skip.
func Model(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(Dir(t), name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("paritytest: fixture model %q: %v", name, err)
	}
	return p
}
