package web

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"testing"

	"github.com/mechinterp/workbench/data"
)

// needInstalled is the one place the web tests stop for a missing Debian
// package (chromium, dataset-fashion-mnist): err, from looking for it,
// must wrap fs.ErrNotExist. The test then skips with the command that
// installs it, except under CI=true, where it fails: .ci/run installs
// both. Any other error (an installed package that cannot be read) fails.
func needInstalled(t *testing.T, pkg string, err error) {
	t.Helper()
	switch {
	case err == nil:
		return
	case !errors.Is(err, fs.ErrNotExist):
		t.Fatalf("%s is installed but unusable: %v", pkg, err)
	case os.Getenv("CI") == "true":
		t.Fatalf("%s is missing and CI=true (.ci/run installs it): %v", pkg, err)
	}
	t.Skipf("%s is not installed (apt-get install %s): %v", pkg, pkg, err)
}

// installedTestSet returns the directory and test set of Debian's
// Fashion-MNIST, through needInstalled.
func installedTestSet(t *testing.T) (string, *data.ImageSet) {
	t.Helper()
	st := &cnnStore{testDir: data.FashionMNISTDir}
	if _, ok := st.testPaths(); !ok {
		needInstalled(t, data.FashionMNISTPackage, fmt.Errorf("no Fashion-MNIST test set in %s: %w", data.FashionMNISTDir, fs.ErrNotExist))
	}
	set, err := st.testSet()
	if err != nil {
		t.Fatalf("%s is installed but its test set cannot be read: %v", data.FashionMNISTPackage, err)
	}
	return data.FashionMNISTDir, set
}

func TestNeedInstalled(t *testing.T) {
	for _, tt := range []struct {
		err     error
		ci      string
		skipped bool
		failed  bool
	}{
		{nil, "", false, false},
		{nil, "true", false, false},
		{fmt.Errorf("looked: %w", fs.ErrNotExist), "", true, false},
		{fmt.Errorf("looked: %w", fs.ErrNotExist), "true", false, true},
		{errors.New("corrupt file"), "", false, true},
		{errors.New("corrupt file"), "true", false, true},
	} {
		t.Setenv("CI", tt.ci)
		ft := &testing.T{}
		done := make(chan struct{})
		go func() { // Skip and Fatal end the goroutine
			defer close(done)
			needInstalled(ft, "pkg", tt.err)
		}()
		<-done
		if ft.Skipped() != tt.skipped || ft.Failed() != tt.failed {
			t.Errorf("needInstalled(%v) with CI=%q: skipped %v failed %v, want %v %v", tt.err, tt.ci, ft.Skipped(), ft.Failed(), tt.skipped, tt.failed)
		}
	}
}
