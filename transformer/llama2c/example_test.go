package llama2c_test

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mechinterp/workbench/transformer/llama2c"
)

// Example writes a tiny legacy llama2.c checkpoint (the seven header
// fields, then every float32 array, here all zero), sniffs it and loads it.
func Example() {
	dim, hidden, layers, heads, kvHeads, vocab, seqLen := 8, 16, 1, 2, 1, 5, 4
	hs := dim / heads
	b := binary.LittleEndian.AppendUint32(nil, uint32(dim))
	for _, v := range []int{hidden, layers, heads, kvHeads, vocab, seqLen} {
		b = binary.LittleEndian.AppendUint32(b, uint32(v))
	}
	// token_embedding, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3,
	// rms_final, freq_cis_real, freq_cis_imag (tied classifier: no wcls).
	floats := vocab*dim + layers*(dim+dim*dim+2*kvHeads*hs*dim+dim*dim+dim+3*hidden*dim) + dim + seqLen*hs
	b = append(b, make([]byte, 4*floats)...)
	dir, err := os.MkdirTemp("", "llama2c")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "tiny.bin")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		fmt.Println(err)
		return
	}

	fmt.Println("llama2.c checkpoint:", llama2c.IsCheckpoint(path))
	m, err := llama2c.Load(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	c := m.Cfg
	fmt.Printf("d_model %d, %d heads of %d (%d K/V), d_mlp %d, n_ctx %d\n", c.DModel, c.NHeads, c.DHead, c.NKeyValueHeads, c.DMLP, c.NCtx)
	fmt.Printf("%s norm, %s act, gated %t, adjacent rotary %t, tied %t\n", c.NormalizationType, c.ActFn, c.GatedMLP, c.RotaryAdjacentPairs, c.TiedEmbeddings)

	if err := os.WriteFile(path, b[:len(b)-4], 0o644); err != nil {
		fmt.Println(err)
		return
	}
	_, err = llama2c.Load(path)
	fmt.Println(err != nil)
	// Output:
	// llama2.c checkpoint: true
	// d_model 8, 2 heads of 4 (1 K/V), d_mlp 16, n_ctx 4
	// RMS norm, silu act, gated true, adjacent rotary true, tied true
	// true
}
