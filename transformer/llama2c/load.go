package llama2c

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/mechinterp/workbench/transformer"
)

// IsCheckpoint reports whether the file at path looks like a llama2.c
// checkpoint: it starts with the "ak42" magic, or with a legacy header
// whose seven fields are in range. It reads at most 256 bytes and does not
// check the rest: Load does, and names what is wrong.
func IsCheckpoint(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return false
	}
	b := make([]byte, versionedHeaderLen)
	n, _ := io.ReadFull(f, b)
	b = b[:n]
	if len(b) >= 4 && binary.LittleEndian.Uint32(b) == magic {
		return true
	}
	_, err = parseHeader(b)
	return err == nil
}

// Load reads the llama2.c checkpoint at path (legacy, version 1 or
// version 2, which it dequantizes) into a model; see the package
// documentation for the formats and the mapping.
func Load(path string) (*transformer.Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("llama2c: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("llama2c: %w", err)
	}
	m, err := read(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, path)
	}
	return m, nil
}

// read reads a checkpoint of size bytes from r.
func read(r io.ReaderAt, size int64) (*transformer.Model, error) {
	head := make([]byte, min(size, versionedHeaderLen))
	if _, err := r.ReadAt(head, 0); err != nil && !(errors.Is(err, io.EOF) && len(head) == int(size)) {
		return nil, fmt.Errorf("llama2c: reading the header: %w", err)
	}
	h, err := parseHeader(head)
	if err != nil {
		return nil, err
	}
	if want := h.fileSize(); want != size {
		return nil, fmt.Errorf("llama2c: the %s header (dim %d, hidden_dim %d, n_layers %d, n_heads %d, n_kv_heads %d, vocab_size %d, seq_len %d) implies %d bytes, the file has %d",
			h.formatName(), h.dim, h.hidden, h.layers, h.heads, h.kvHeads, h.vocab, h.seqLn, want, size)
	}
	cfg := h.config()
	ts := map[string]tensor{}
	for _, t := range h.tensors() {
		ts[t.name] = t
	}
	rd := &tensorReader{r: r, groupSize: h.groupSize}
	m, err := transformer.FromParams(cfg, func(name string, shape []int, dst []float32) error {
		src, ok := sourceOf(name, cfg)
		if !ok {
			if zeroParam(name) {
				return nil
			}
			return fmt.Errorf("llama2c: no llama2.c weight for parameter %q", name)
		}
		w, err := rd.read(ts[src.tensor], src.layer)
		if err != nil {
			return err
		}
		src.convert(dst, w, ts[src.tensor])
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// config returns the transformer.Config of a llama2.c model (see the
// package documentation).
func (h header) config() transformer.Config {
	return transformer.Config{
		NLayers: h.layers, DModel: h.dim, NHeads: h.heads, DHead: h.headSize(), DMLP: h.hidden,
		DVocab: h.vocab, NCtx: h.seqLn,
		NormalizationType:       transformer.NormRMS,
		Eps:                     1e-5,
		PositionalEmbeddingType: transformer.PosRotary,
		RotaryDim:               h.headSize(),
		RotaryBase:              10000,
		RotaryAdjacentPairs:     true,
		NKeyValueHeads:          h.kvHeads,
		GatedMLP:                true,
		ActFn:                   transformer.ActSiLU,
		TiedEmbeddings:          h.tied,
	}
}

// A source is where a TransformerLens parameter comes from: one matrix of
// a llama2.c array, and how to lay it out.
type source struct {
	tensor  string
	layer   int
	convert func(dst, w []float32, t tensor)
}

// same copies a matrix.
func same(dst, w []float32, _ tensor) { copy(dst, w) }

// transposed writes a [rows, cols] matrix as [cols, rows].
func transposed(dst, w []float32, t tensor) {
	for i := range t.rows {
		for j := range t.cols {
			dst[j*t.rows+i] = w[i*t.cols+j]
		}
	}
}

// perHead returns the conversion of a [heads·d_head, d_model] projection to
// TransformerLens's [heads, d_model, d_head].
func perHead(dh int) func(dst, w []float32, t tensor) {
	return func(dst, w []float32, t tensor) {
		d := t.cols
		for r := range t.rows { // r = h·dh + j
			h, j := r/dh, r%dh
			for i := range d {
				dst[(h*d+i)*dh+j] = w[r*d+i]
			}
		}
	}
}

// sourceOf maps a TransformerLens parameter name of a llama2.c model to its
// source, or reports false for the parameters llama2.c does not have.
func sourceOf(name string, c transformer.Config) (source, bool) {
	switch name {
	case "embed.W_E":
		return source{"token_embedding", 0, same}, true
	case "ln_final.w":
		return source{"rms_final", 0, same}, true
	case "unembed.W_U":
		return source{"wcls", 0, transposed}, true
	}
	rest, ok := strings.CutPrefix(name, "blocks.")
	if !ok {
		return source{}, false
	}
	num, param, ok := strings.Cut(rest, ".")
	l, err := strconv.Atoi(num)
	if !ok || err != nil {
		return source{}, false
	}
	param = strings.Replace(param, "attn._", "attn.", 1) // grouped K/V names
	src := map[string]source{
		"ln1.w":      {"rms_att", l, same},
		"ln2.w":      {"rms_ffn", l, same},
		"attn.W_Q":   {"wq", l, perHead(c.DHead)},
		"attn.W_K":   {"wk", l, perHead(c.DHead)},
		"attn.W_V":   {"wv", l, perHead(c.DHead)},
		"attn.W_O":   {"wo", l, transposed},
		"mlp.W_gate": {"w1", l, transposed},
		"mlp.W_in":   {"w3", l, transposed},
		"mlp.W_out":  {"w2", l, transposed},
	}[param]
	return src, src.tensor != ""
}

// zeroParam reports whether a parameter is one llama2.c models do not
// have, left zero: biases and the (unused, rotary) positional embedding.
func zeroParam(name string) bool {
	if name == "pos_embed.W_pos" || name == "unembed.b_U" {
		return true
	}
	name = strings.Replace(name, "attn._", "attn.", 1) // grouped K/V names
	for _, b := range []string{".b_Q", ".b_K", ".b_V", ".b_O", ".b_in", ".b_out"} {
		if strings.HasSuffix(name, b) {
			return true
		}
	}
	return false
}

// tensorReader reads one matrix at a time, reusing its buffers.
type tensorReader struct {
	r         io.ReaderAt
	groupSize int
	raw       []byte
	vals      []float32
}

// read returns matrix layer of t as float32 (dequantized if t is), a view
// the next read overwrites.
func (rd *tensorReader) read(t tensor, layer int) ([]float32, error) {
	n := int(t.size())
	rd.vals = growTo(rd.vals, n)
	if !t.quantized {
		raw, err := rd.bytes(t.offset+int64(layer)*4*int64(n), 4*n, t.name)
		if err != nil {
			return nil, err
		}
		for i := range rd.vals {
			rd.vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		return rd.vals, nil
	}
	gs := rd.groupSize
	groups := n / gs
	raw, err := rd.bytes(t.scales+int64(layer)*4*int64(groups), 4*groups, t.name+" scales")
	if err != nil {
		return nil, err
	}
	for g := range groups { // the scales first, into the values' place
		rd.vals[g*gs] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*g:]))
	}
	raw, err = rd.bytes(t.offset+int64(layer)*int64(n), n, t.name)
	if err != nil {
		return nil, err
	}
	for g := range groups {
		s := rd.vals[g*gs]
		for i := g * gs; i < (g+1)*gs; i++ {
			rd.vals[i] = float32(int8(raw[i])) * s
		}
	}
	return rd.vals, nil
}

// bytes reads n bytes at off.
func (rd *tensorReader) bytes(off int64, n int, what string) ([]byte, error) {
	if cap(rd.raw) < n {
		rd.raw = make([]byte, n)
	}
	rd.raw = rd.raw[:n]
	if _, err := rd.r.ReadAt(rd.raw, off); err != nil {
		return nil, fmt.Errorf("llama2c: reading %s at byte %d: %w", what, off, err)
	}
	return rd.raw, nil
}

// growTo returns s with length n, reallocated only if too short.
func growTo(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}
