package data_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/data"
	"github.com/mechinterp/workbench/internal/testenv"
)

// writeFashion writes a small generated Fashion-MNIST-shaped data set into
// dir: n images of h×w pixels, pixel (i, p) = (i+p)·7 mod 256, label i mod 10;
// the training split is gzipped and the test split plain, so one load
// exercises both.
func writeFashion(t *testing.T, dir string, nTrain, nTest, h, w int) {
	t.Helper()
	for _, split := range []struct {
		name string
		n    int
		gz   bool
	}{{"train", nTrain, true}, {"t10k", nTest, false}} {
		pix := make([]byte, split.n*h*w)
		for i := range pix {
			pix[i] = byte((i/(h*w) + i%(h*w)) * 7)
		}
		lab := make([]byte, split.n)
		for i := range lab {
			lab[i] = byte(i % 10)
		}
		ext := ""
		if split.gz {
			ext = ".gz"
		}
		writeFile(t, dir, split.name+"-images-idx3-ubyte"+ext, data.EncodeIDX([]int{split.n, h, w}, pix, split.gz))
		writeFile(t, dir, split.name+"-labels-idx1-ubyte"+ext, data.EncodeIDX([]int{split.n}, lab, split.gz))
	}
}

// checkImageSetShape fails the test unless s holds n images of h×w pixels
// and n labels.
func checkImageSetShape(t *testing.T, name string, s *data.ImageSet, n, h, w int) {
	t.Helper()
	if s.N != n || s.H != h || s.W != w || len(s.Images) != n*h*w || len(s.Labels) != n {
		t.Fatalf("%s: got N=%d H=%d W=%d, %d pixels, %d labels; want %d×%d×%d", name, s.N, s.H, s.W, len(s.Images), len(s.Labels), n, h, w)
	}
}

func TestFashionMNISTGenerated(t *testing.T) {
	dir := t.TempDir()
	const nTrain, nTest, h, w = 23, 11, 4, 3
	writeFashion(t, dir, nTrain, nTest, h, w)
	train, test, err := data.FashionMNIST(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		s    *data.ImageSet
		n    int
	}{{"train", train, nTrain}, {"test", test, nTest}} {
		s := tt.s
		checkImageSetShape(t, tt.name, s, tt.n, h, w)
		for i := range s.N {
			img := s.Image(i)
			for p, v := range img {
				if want := float32(byte((i+p)*7)) / 255; v != want {
					t.Fatalf("%s: image %d pixel %d = %g, want %g", tt.name, i, p, v, want)
				}
			}
			if s.Labels[i] != uint8(i%10) {
				t.Fatalf("%s: label %d = %d, want %d", tt.name, i, s.Labels[i], i%10)
			}
		}
	}
}

func TestFashionMNISTErrors(t *testing.T) {
	missing := t.TempDir()
	_, _, err := data.FashionMNIST(missing)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "dataset-fashion-mnist") || !strings.Contains(err.Error(), missing) {
		t.Errorf("FashionMNIST(empty dir) = %v, want fs.ErrNotExist naming the Debian package and the directory", err)
	}

	tests := []struct {
		name   string
		modify func(dir string)
		want   string
	}{
		{"labels count", func(dir string) {
			writeFile(t, dir, "t10k-labels-idx1-ubyte", data.EncodeIDX([]int{10}, make([]byte, 10), false))
		}, "want labels of shape [11]"},
		{"images rank", func(dir string) {
			writeFile(t, dir, "t10k-images-idx3-ubyte", data.EncodeIDX([]int{11, 12}, make([]byte, 132), false))
		}, "want images of shape [N, H, W], got [11 12]"},
		{"label range", func(dir string) {
			lab := make([]byte, 11)
			lab[4] = 10
			writeFile(t, dir, "t10k-labels-idx1-ubyte", data.EncodeIDX([]int{11}, lab, false))
		}, "label 10 of image 4 out of range [0, 10)"},
		{"corrupt", func(dir string) {
			writeFile(t, dir, "train-labels-idx1-ubyte.gz", []byte{0x1f, 0x8b, 8, 0})
		}, "bad idx file"},
		{"missing test labels", func(dir string) {
			os.Remove(filepath.Join(dir, "t10k-labels-idx1-ubyte"))
		}, "no t10k-labels-idx1-ubyte[.gz]"},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		writeFashion(t, dir, 23, 11, 4, 3)
		tt.modify(dir)
		_, _, err := data.FashionMNIST(dir)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "data: ") {
			t.Errorf("%s: FashionMNIST = %v, want error containing %q", tt.name, err, tt.want)
		}
	}
}

// TestFashionMNISTDebian checks the real data set from Debian's
// dataset-fashion-mnist package (.ci/run installs it). Without the
// package it goes through testenv.Installed, and it skips in -short mode outside CI.
func TestFashionMNISTDebian(t *testing.T) {
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("loading the 70,000 real images takes seconds; skipped in -short mode outside CI")
	}
	_, err := os.Stat(data.FashionMNISTDir)
	testenv.Installed(t, data.FashionMNISTPackage, err)
	train, test, err := data.FashionMNIST("")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		s    *data.ImageSet
		n    int
	}{{"train", train, 60000}, {"test", test, 10000}} {
		s := tt.s
		checkImageSetShape(t, tt.name, s, tt.n, 28, 28)
		// Fashion-MNIST is balanced: every class has N/10 images.
		counts := make([]int, data.FashionMNISTClasses)
		for _, l := range s.Labels {
			counts[l]++
		}
		for c, got := range counts {
			if got != tt.n/10 {
				t.Errorf("%s: class %d (%s) has %d images, want %d", tt.name, c, data.FashionMNISTLabel(uint8(c)), got, tt.n/10)
			}
		}
		var lo, hi float32 = 1, 0
		var sum float64
		for _, v := range s.Images {
			lo, hi, sum = min(lo, v), max(hi, v), sum+float64(v)
		}
		// The published training-set pixel mean is 0.2860.
		if mean := sum / float64(len(s.Images)); lo != 0 || hi != 1 || mean < 0.27 || mean > 0.30 {
			t.Errorf("%s: pixels in [%g, %g] with mean %g, want [0, 1] and mean ≈ 0.286", tt.name, lo, hi, mean)
		}
	}
}
