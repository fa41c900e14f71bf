// Package testenv is where a test finds what lives outside the repository:
// the shared numerical parity fixtures (models and the values an
// independent float64 reference computed from them, in
// ../shared/testdata/parity beside the repository) and the Debian packages
// that .ci/run installs (chromium, dataset-fashion-mnist). It is for tests
// only, and it imports only the standard library, so that a test of any
// package, checkpoint and transformer included, can use it.
//
// ParityDir, SharedDir and Installed are the only places where a test of this
// repository may skip. Each skips, with a message naming what is missing
// and how to get it, only when it is absent and CI is not "true": the
// README's `go test ./...` then works on a fresh clone with only Go
// installed. Under CI=true an absence fails the test. The root test
// TestSkipsAreChecked enforces that no other skip exists.
package testenv

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// ParityDir returns the directory of the shared parity fixtures,
// ../shared/testdata/parity beside the module root, found by walking up
// from the test's working directory to the nearest go.mod. When the
// directory is absent it skips t with a message naming the path, or fails
// t when the environment variable CI is "true".
func ParityDir(t testing.TB) string {
	t.Helper()
	p := filepath.Join(sharedRoot(t), "parity")
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("testenv: parity fixtures missing at %s, and CI=true requires them: %v", p, err)
		}
		t.Skipf("testenv: parity fixtures not found at %s (they live in ../shared beside the repository; CI=true fails here): %v", p, err)
	}
	return p
}

// SharedDir returns the folder name inside ../shared/testdata beside the
// module root (tokenizers, corpora, hf, llama2c, …): when it is absent it skips t with
// a message naming the path, or fails t when CI is "true", as ParityDir.
func SharedDir(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(sharedRoot(t), name)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("testenv: shared fixtures missing at %s, and CI=true requires them: %v", p, err)
		}
		t.Skipf("testenv: shared fixtures not found at %s (they live in ../shared beside the repository; CI=true fails here): %v", p, err)
	}
	return p
}

// sharedRoot returns ../shared/testdata beside the module root, found by
// walking up from the test's working directory to the nearest go.mod.
func sharedRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("testenv: no go.mod above the test's directory")
		}
		dir = parent
	}
	return filepath.Join(dir, "..", "shared", "testdata")
}

// ParityModel returns the folder of the named fixture model inside ParityDir(t)
// (attn2_induction, full2_ln_gelu, attn2_long, …). A missing model inside
// fixtures that are present fails t: that is never a reason to skip.
func ParityModel(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(ParityDir(t), name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("testenv: fixture model %q: %v", name, err)
	}
	return p
}

// Installed stops t when a Debian package the test needs is missing. err
// is what looking for the package's files returned: nil lets the test go
// on; an error wrapping fs.ErrNotExist skips t with the install command,
// or fails it when CI is "true" (.ci/run installs the package); any other
// error (the package is there but unusable) fails t.
func Installed(t testing.TB, pkg string, err error) {
	t.Helper()
	switch {
	case err == nil:
		return
	case !errors.Is(err, fs.ErrNotExist):
		t.Fatalf("testenv: %s is installed but unusable: %v", pkg, err)
	case os.Getenv("CI") == "true":
		t.Fatalf("testenv: %s is missing and CI=true (.ci/run installs it): %v", pkg, err)
	}
	t.Skipf("testenv: %s is not installed (apt-get install %s; CI=true fails here): %v", pkg, pkg, err)
}
