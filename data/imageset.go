package data

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// FashionMNISTDir is where Debian's dataset-fashion-mnist package installs
// the Fashion-MNIST IDX files (train-images-idx3-ubyte.gz,
// train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz,
// t10k-labels-idx1-ubyte.gz).
const FashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// FashionMNISTPackage is the Debian package that provides FashionMNISTDir.
const FashionMNISTPackage = "dataset-fashion-mnist"

// FashionMNISTClasses is the number of Fashion-MNIST classes.
const FashionMNISTClasses = 10

// An ImageSet is a labelled set of N grey-scale images of H×W pixels.
// Images is [N, H, W] row-major with pixels scaled from bytes to [0, 1]
// (v/255); Labels is [N]. An ImageSet is read-only after loading and then
// safe for concurrent use.
type ImageSet struct {
	N, H, W int
	Images  []float32
	Labels  []uint8
}

// Image returns a view (not a copy) of image i, [H, W] row-major. It panics
// (index out of range) if i is not in [0, N).
func (s *ImageSet) Image(i int) []float32 {
	n := s.H * s.W
	return s.Images[i*n : (i+1)*n : (i+1)*n]
}

// ReadImageSet reads an image set from an IDX images file of shape
// [N, H, W] and an IDX labels file of shape [N], each plain or gzip (see
// ReadIDX), as in MNIST and Fashion-MNIST.
func ReadImageSet(images, labels string) (*ImageSet, error) {
	ishape, pix, err := ReadIDX(images)
	if err != nil {
		return nil, err
	}
	if len(ishape) != 3 {
		return nil, fmt.Errorf("data: %s: want images of shape [N, H, W], got %v", images, ishape)
	}
	lshape, lab, err := ReadIDX(labels)
	if err != nil {
		return nil, err
	}
	if len(lshape) != 1 || lshape[0] != ishape[0] {
		return nil, fmt.Errorf("data: %s: want labels of shape [%d] to match %s, got %v", labels, ishape[0], images, lshape)
	}
	var scale [256]float32
	for v := range scale {
		scale[v] = float32(v) / 255
	}
	s := &ImageSet{N: ishape[0], H: ishape[1], W: ishape[2], Images: make([]float32, len(pix)), Labels: lab}
	for i, v := range pix {
		s.Images[i] = scale[v]
	}
	return s, nil
}

// FashionMNIST loads the Fashion-MNIST training (60,000) and test (10,000)
// sets of 28×28 images and labels 0–9 (Xiao, Rasul & Vollgraf, 2017) from dir,
// or from FashionMNISTDir if dir is "". In dir each of train-images-idx3-ubyte,
// train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte
// is found with a ".gz" suffix or without one. If a file is missing the error
// names the Debian package to install and wraps fs.ErrNotExist. Labels
// outside [0, FashionMNISTClasses) are an error.
//
// The sets take about 220 MB as float32.
func FashionMNIST(dir string) (train, test *ImageSet, err error) {
	if dir == "" {
		dir = FashionMNISTDir
	}
	if train, err = readFashionSplit(dir, "train"); err != nil {
		return nil, nil, err
	}
	if test, err = readFashionSplit(dir, "t10k"); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

func readFashionSplit(dir, split string) (*ImageSet, error) {
	images, err := findIDX(dir, split+"-images-idx3-ubyte")
	if err != nil {
		return nil, err
	}
	labels, err := findIDX(dir, split+"-labels-idx1-ubyte")
	if err != nil {
		return nil, err
	}
	s, err := ReadImageSet(images, labels)
	if err != nil {
		return nil, err
	}
	for i, l := range s.Labels {
		if l >= FashionMNISTClasses {
			return nil, fmt.Errorf("data: %s: label %d of image %d out of range [0, %d)", labels, l, i, FashionMNISTClasses)
		}
	}
	return s, nil
}

// findIDX returns dir/base.gz or dir/base, whichever exists, preferring .gz.
func findIDX(dir, base string) (string, error) {
	for _, name := range [...]string{base + ".gz", base} {
		p := filepath.Join(dir, name)
		_, err := os.Stat(p)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("data: %w", err)
		}
	}
	return "", fmt.Errorf("data: fashion-mnist: no %s[.gz] in %s (install the Debian package %s, "+
		"or pass the directory holding the IDX files): %w", base, dir, FashionMNISTPackage, fs.ErrNotExist)
}

// FashionMNISTLabel returns the class name of a Fashion-MNIST label
// ("T-shirt/top", "Trouser", ..., "Ankle boot"), or "" if the label is out of
// range.
func FashionMNISTLabel(label uint8) string {
	names := [FashionMNISTClasses]string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
		"Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}
	if int(label) >= len(names) {
		return ""
	}
	return names[label]
}
