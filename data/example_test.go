package data_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/mechinterp/workbench/data"
)

// A variable-length repeated-tokens batch: filler, then a block P of Ls
// tokens, then P again; the loss mask covers the second copy's predictable
// targets.
func ExampleInduction_Fill() {
	task := data.Induction{Vocab: 20, L: 5, MinRepeat: 3, Distinct: true, BOS: true}
	if err := task.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	b := data.NewBatch(2, task.SeqLen()) // allocate once
	rng := rand.New(rand.NewPCG(1, 1))
	task.Fill(b, rng) // refill every step; never allocates
	for s := range b.N {
		tok, tgt, w := b.Seq(s)
		fmt.Println("Ls:     ", b.Repeat[s])
		fmt.Println("tokens: ", tok)
		fmt.Println("targets:", tgt)
		fmt.Println("weights:", w)
	}
	// Output:
	// Ls:      5
	// tokens:  [0 16 2 6 13 18 16 2 6 13 18]
	// targets: [16 2 6 13 18 16 2 6 13 18 0]
	// weights: [0 0 0 0 0 0 1 1 1 1 0]
	// Ls:      4
	// tokens:  [0 16 1 3 15 6 14 3 15 6 14]
	// targets: [16 1 3 15 6 14 3 15 6 14 0]
	// weights: [0 0 0 0 0 0 0 1 1 1 0]
}

// The generalisation probe tiles a block of period L/2+1.
func ExampleInduction_ProbeSet() {
	task := data.Induction{Vocab: 20, L: 5, MinRepeat: 3, Distinct: true}
	b, err := task.ProbeSet(1, 7)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("period: ", b.Repeat[0])
	fmt.Println("tokens: ", b.Tokens)
	fmt.Println("weights:", b.Weights)
	// Output:
	// period:  3
	// tokens:  [15 0 17 15 0 17 15 0 17 15]
	// weights: [0 0 0 1 1 1 1 1 1 0]
}

func ExampleInduction_Validate() {
	task := data.Induction{Vocab: 16, L: 10, MinRepeat: 2, Distinct: true, BOS: true}
	fmt.Println(task.Validate())
	// Output:
	// data: induction: vocab 16 too small for distinct tokens: a sequence needs 18 distinct content tokens (bos=true)
}

func ExamplePrevToken_Fill() {
	task := data.PrevToken{Vocab: 10, SeqLen: 6, BOS: true}
	b := data.NewBatch(1, task.SeqLen)
	task.Fill(b, rand.New(rand.NewPCG(3, 3)))
	fmt.Println("tokens: ", b.Tokens)
	fmt.Println("targets:", b.Targets)
	fmt.Println("weights:", b.Weights)
	// Output:
	// tokens:  [0 3 5 1 6 6]
	// targets: [0 0 3 5 1 6]
	// weights: [0 0 1 1 1 1]
}

func ExampleMixture_Sample() {
	ring := data.Ring8()
	fmt.Println("modes:", len(ring.Centres), "σ:", ring.Sigma)
	fmt.Println("first centres:", ring.Centres[:3])
	pts := make([]float32, 2*1000) // [n, 2]
	ring.Sample(pts, 1000, rand.New(rand.NewPCG(5, 5)))
	high := 0
	for i := range 1000 {
		if _, d := ring.Nearest(float64(pts[2*i]), float64(pts[2*i+1])); d < 3*ring.Sigma {
			high++
		}
	}
	fmt.Println("within 3σ of a mode:", high >= 980)
	// Output:
	// modes: 8 σ: 0.02
	// first centres: [[2 0] [1.4142135623730951 1.414213562373095] [0 2]]
	// within 3σ of a mode: true
}

func ExampleReadIDX() {
	dir, err := os.MkdirTemp("", "idx")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	// Two 2×3 images, gzip-compressed as in the MNIST distribution.
	path := filepath.Join(dir, "images-idx3-ubyte.gz")
	if err := os.WriteFile(path, data.EncodeIDX([]int{2, 2, 3}, []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, true), 0o644); err != nil {
		fmt.Println(err)
		return
	}
	shape, pix, err := data.ReadIDX(path)
	fmt.Println(shape, pix, err)
	// Output:
	// [2 2 3] [0 1 2 3 4 5 6 7 8 9 10 11] <nil>
}

// FashionMNIST finds Debian's dataset-fashion-mnist files by default.
func ExampleFashionMNIST() {
	train, test, err := data.FashionMNIST("") // or a directory, e.g. from --data
	if err != nil {
		fmt.Println(err) // names the Debian package when the files are absent
		return
	}
	fmt.Println(train.N, test.N, train.H, train.W, data.FashionMNISTLabel(train.Labels[0]))
}
