// Package datatest is test support for packages that read Fashion-MNIST:
// a small, learnable stand-in for the data set written as IDX files. Only
// tests import it.
package datatest

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/mechinterp/workbench/data"
)

// WriteIDX writes values as a gzip-compressed IDX file of unsigned bytes
// with the given dimensions, failing t on error.
func WriteIDX(t testing.TB, path string, dims []int, values []byte) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	hdr := []byte{0, 0, 0x08, byte(len(dims))}
	for _, d := range dims {
		hdr = binary.BigEndian.AppendUint32(hdr, uint32(d))
	}
	zw.Write(hdr)
	zw.Write(values)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// SyntheticFashion writes a small learnable stand-in for Fashion-MNIST
// (nTrain training and nTest test images, the files data.FashionMNIST
// reads) into a temporary directory and returns it: class k is a bright
// 6×6 square at one of ten positions on a 28×28 noisy background, jittered
// by up to 2 pixels. The images are fixed (seed 42).
func SyntheticFashion(t testing.TB, nTrain, nTest int) string {
	t.Helper()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(42, 42))
	split := func(name string, n int) {
		pix, lab := make([]byte, n*28*28), make([]byte, n)
		for i := range n {
			k := rng.IntN(data.FashionMNISTClasses)
			lab[i] = byte(k)
			img := pix[i*784 : (i+1)*784]
			for j := range img {
				img[j] = byte(rng.IntN(60))
			}
			r0 := 2 + (k/5)*12 + rng.IntN(5) - 2
			c0 := 1 + (k%5)*5 + rng.IntN(3) - 1
			for r := max(r0, 0); r < min(r0+6, 28); r++ {
				for c := max(c0, 0); c < min(c0+6, 28); c++ {
					img[r*28+c] = byte(200 + rng.IntN(56))
				}
			}
		}
		WriteIDX(t, filepath.Join(dir, name+"-images-idx3-ubyte.gz"), []int{n, 28, 28}, pix)
		WriteIDX(t, filepath.Join(dir, name+"-labels-idx1-ubyte.gz"), []int{n}, lab)
	}
	split("train", nTrain)
	split("t10k", nTest)
	return dir
}
