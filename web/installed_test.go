package web

import (
	"fmt"
	"io/fs"
	"testing"

	"github.com/mechinterp/workbench/data"
	"github.com/mechinterp/workbench/internal/testenv"
)

// needInstalled stops the test when a Debian package it needs (chromium,
// dataset-fashion-mnist) is missing: testenv.Installed, which skips with the
// install command locally and fails under CI=true (.ci/run installs both).
func needInstalled(t *testing.T, pkg string, err error) {
	t.Helper()
	testenv.Installed(t, pkg, err)
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
