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
		t := ts[src.tensor]
		return rd.read(dst, t, src.layer, func(e int) int { return src.place(t, e) })
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
// a llama2.c array, and where each of its values goes.
type source struct {
	tensor string
	layer  int
	place  func(t tensor, e int) int // index in the parameter of value e of the [rows, cols] matrix (row-major)
}

// same keeps a matrix's layout.
func same(_ tensor, e int) int { return e }

// transposed lays a [rows, cols] matrix out as [cols, rows].
func transposed(t tensor, e int) int { return (e%t.cols)*t.rows + e/t.cols }

// perHead returns the layout of a [heads·d_head, d_model] projection as
// TransformerLens's [heads, d_model, d_head].
func perHead(dh int) func(t tensor, e int) int {
	return func(t tensor, e int) int {
		r, i := e/t.cols, e%t.cols // r = head·dh + j
		return ((r/dh)*t.cols+i)*dh + r%dh
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

// chunk is the number of values read from the file at once: loading holds
// the model and this much more.
const chunk = 1 << 16

// tensorReader reads matrices in chunks, reusing its buffer.
type tensorReader struct {
	r         io.ReaderAt
	groupSize int
	raw       []byte
	scales    []float32 // of the chunk's groups
}

// read writes matrix layer of t into dst, value e at dst[place(e)],
// dequantizing it if t is quantized.
func (rd *tensorReader) read(dst []float32, t tensor, layer int, place func(e int) int) error {
	n := int(t.size())
	if !t.quantized {
		base := t.offset + 4*int64(layer)*int64(n)
		for lo := 0; lo < n; lo += chunk {
			m := min(chunk, n-lo)
			raw, err := rd.bytes(base+4*int64(lo), 4*m, t.name)
			if err != nil {
				return err
			}
			for k := range m {
				dst[place(lo+k)] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*k:]))
			}
		}
		return nil
	}
	// Q8_0: chunks of whole groups, their scales read first.
	gs := rd.groupSize
	per := max(1, chunk/gs) * gs
	base, scales := t.offset+int64(layer)*int64(n), t.scales+4*int64(layer)*int64(n/gs)
	for lo := 0; lo < n; lo += per {
		m := min(per, n-lo)
		raw, err := rd.bytes(scales+4*int64(lo/gs), 4*(m/gs), t.name+" scales")
		if err != nil {
			return err
		}
		rd.scales = rd.scales[:0]
		for g := range m / gs {
			rd.scales = append(rd.scales, math.Float32frombits(binary.LittleEndian.Uint32(raw[4*g:])))
		}
		q, err := rd.bytes(base+int64(lo), m, t.name)
		if err != nil {
			return err
		}
		for g, s := range rd.scales {
			for k := g * gs; k < (g+1)*gs; k++ {
				dst[place(lo+k)] = float32(int8(q[k])) * s
			}
		}
	}
	return nil
}

// bytes reads n bytes at off into the reused buffer.
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
