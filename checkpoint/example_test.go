package checkpoint_test

import (
	"bytes"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/mechinterp/workbench/checkpoint"
)

// Write a tensor to memory and read it back.
func Example() {
	var buf bytes.Buffer
	tensors := []checkpoint.Tensor{
		{Name: "embed.W_E", Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, 6}},
	}
	if err := checkpoint.Write(&buf, tensors, map[string]string{"format": "pt"}); err != nil {
		log.Fatal(err)
	}

	f, err := checkpoint.Parse(buf.Bytes())
	if err != nil {
		log.Fatal(err)
	}
	data, shape, err := f.Float32("embed.W_E")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(shape, data, f.Metadata["format"])
	// Output: [2 3] [1 2 3 4 5 6] pt
}

// Save a checkpoint atomically, list its tensors and load one into a buffer
// of the expected shape.
func ExampleWriteFile() {
	dir, err := os.MkdirTemp("", "checkpoint-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "step-000100.safetensors")

	tensors := []checkpoint.Tensor{
		{Name: "unembed.b_U", Shape: []int{3}, Data: []float32{0.5, -1, 2}},
		{Name: "blocks.0.attn.W_Q", Shape: []int{1, 2, 2}, Data: []float32{1, 0, 0, 1}},
	}
	if err := checkpoint.WriteFile(path, tensors, nil); err != nil {
		log.Fatal(err)
	}

	f, err := checkpoint.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	for _, t := range f.Tensors() {
		fmt.Println(t.Name, t.DType, t.Shape, t.Begin, t.End)
	}
	wq := make([]float32, 4)
	if err := f.Float32Into(wq, "blocks.0.attn.W_Q", []int{1, 2, 2}); err != nil {
		log.Fatal(err)
	}
	fmt.Println(wq)
	// Output:
	// blocks.0.attn.W_Q F32 [1 2 2] 0 16
	// unembed.b_U F32 [3] 16 28
	// [1 0 0 1]
}

// A tensor whose shape differs from the one the model expects is reported
// with both shapes.
func ExampleFile_Float32Into() {
	var buf bytes.Buffer
	w := []checkpoint.Tensor{{Name: "blocks.0.attn.W_Q", Shape: []int{4, 64, 8}, Data: make([]float32, 4*64*8)}}
	if err := checkpoint.Write(&buf, w, nil); err != nil {
		log.Fatal(err)
	}
	f, err := checkpoint.Parse(buf.Bytes())
	if err != nil {
		log.Fatal(err)
	}

	dst := make([]float32, 4*64*16)
	err = f.Float32Into(dst, "blocks.0.attn.W_Q", []int{4, 64, 16})
	fmt.Println(err)
	var shapeErr *checkpoint.ShapeError
	fmt.Println(errors.As(err, &shapeErr))

	err = f.Float32Into(dst, "blocks.0.attn.W_K", nil)
	fmt.Println(err, errors.Is(err, checkpoint.ErrNotFound))
	// Output:
	// checkpoint: tensor "blocks.0.attn.W_Q": want shape [4 64 16], got [4 64 8]
	// true
	// checkpoint: tensor "blocks.0.attn.W_K" not found true
}
