package llama2c

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// arrays is a llama2.c model as the test writes it, independently of the
// package's reader: the seven header fields and every array by llama2.c's
// name, all layers concatenated, [out, in] row-major.
type arrays struct {
	dim, hidden, layers, heads, kvHeads, vocab, seqLen int
	tied                                               bool
	w                                                  map[string][]float32
}

// sizes returns every array's length, in legacy file order.
func (a *arrays) sizes() []struct {
	name string
	n    int
} {
	hs := a.dim / a.heads
	kv := a.kvHeads * hs
	L := a.layers
	out := []struct {
		name string
		n    int
	}{
		{"token_embedding", a.vocab * a.dim}, {"rms_att", L * a.dim}, {"wq", L * a.dim * a.dim},
		{"wk", L * kv * a.dim}, {"wv", L * kv * a.dim}, {"wo", L * a.dim * a.dim}, {"rms_ffn", L * a.dim},
		{"w1", L * a.hidden * a.dim}, {"w2", L * a.dim * a.hidden}, {"w3", L * a.hidden * a.dim},
		{"rms_final", a.dim}, {"freq_cis_real", a.seqLen * hs / 2}, {"freq_cis_imag", a.seqLen * hs / 2},
	}
	if !a.tied {
		out = append(out, struct {
			name string
			n    int
		}{"wcls", a.vocab * a.dim})
	}
	return out
}

// randomArrays returns a small random model (norm gains near 1).
func randomArrays(seed uint64, tied bool) *arrays {
	return randomSized(seed, &arrays{dim: 8, hidden: 12, layers: 2, heads: 2, kvHeads: 1, vocab: 7, seqLen: 6, tied: tied})
}

// randomSized fills a (its dimensions set) with random arrays.
func randomSized(seed uint64, a *arrays) *arrays {
	a.w = map[string][]float32{}
	rng := rand.New(rand.NewPCG(seed, 1))
	for _, s := range a.sizes() {
		v := make([]float32, s.n)
		for i := range v {
			v[i] = float32(rng.NormFloat64() * 0.4)
			if strings.HasPrefix(s.name, "rms") {
				v[i] += 1
			}
		}
		a.w[s.name] = v
	}
	return a
}

// parseLegacy reads a legacy file by slicing it in file order.
func parseLegacy(t *testing.T, b []byte) *arrays {
	t.Helper()
	f := func(i int) int { return int(int32(binary.LittleEndian.Uint32(b[4*i:]))) }
	a := &arrays{dim: f(0), hidden: f(1), layers: f(2), heads: f(3), kvHeads: f(4), vocab: f(5), seqLen: f(6), w: map[string][]float32{}}
	a.tied = a.vocab > 0
	a.vocab = max(a.vocab, -a.vocab)
	off := 28
	for _, s := range a.sizes() {
		v := make([]float32, s.n)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[off+4*i:]))
		}
		a.w[s.name] = v
		off += 4 * s.n
	}
	if off != len(b) {
		t.Fatalf("legacy file: %d bytes, read %d", len(b), off)
	}
	return a
}

func putInts(b []byte, vs ...int) []byte {
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, uint32(int32(v)))
	}
	return b
}

func putFloats(b []byte, vs []float32) []byte {
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

// legacy encodes a in the legacy format.
func (a *arrays) legacy() []byte {
	vocab := a.vocab
	if !a.tied {
		vocab = -vocab
	}
	b := putInts(nil, a.dim, a.hidden, a.layers, a.heads, a.kvHeads, vocab, a.seqLen)
	for _, s := range a.sizes() {
		b = putFloats(b, a.w[s.name])
	}
	return b
}

// versioned encodes a in version 1, or version 2 with group size gs
// (quantized here: scale = max|w| / 127 per group, q = round(w / scale)).
// It also returns, for version 2, the dequantized arrays q·scale.
func (a *arrays) versioned(version, gs int) ([]byte, map[string][]float32) {
	b := binary.LittleEndian.AppendUint32(nil, 0x616b3432)
	b = putInts(b, version, a.dim, a.hidden, a.layers, a.heads, a.kvHeads, a.vocab, a.seqLen)
	tie := byte(0)
	if a.tied {
		tie = 1
	}
	b = append(b, tie)
	if version == 2 {
		b = putInts(b, gs)
	}
	b = append(b, make([]byte, 256-len(b))...)
	for _, n := range []string{"rms_att", "rms_ffn", "rms_final"} {
		b = putFloats(b, a.w[n])
	}
	weights := []string{"token_embedding", "wq", "wk", "wv", "wo", "w1", "w2", "w3"}
	if !a.tied {
		weights = append(weights, "wcls")
	}
	if version == 1 {
		for _, n := range weights {
			b = putFloats(b, a.w[n])
		}
		return b, nil
	}
	deq := map[string][]float32{}
	var scales []float32
	for _, n := range weights {
		w := a.w[n]
		d := make([]float32, len(w))
		for g := 0; g < len(w); g += gs {
			var m float64
			for _, v := range w[g : g+gs] {
				m = math.Max(m, math.Abs(float64(v)))
			}
			s := float32(m / 127)
			scales = append(scales, s)
			for i := g; i < g+gs; i++ {
				q := int8(math.Round(float64(w[i] / s)))
				b = append(b, byte(q))
				d[i] = float32(q) * s
			}
		}
		deq[n] = d
	}
	return putFloats(b, scales), deq
}

func (a *arrays) String() string {
	return fmt.Sprintf("dim %d hidden %d layers %d heads %d kv %d vocab %d seq %d tied %t", a.dim, a.hidden, a.layers, a.heads, a.kvHeads, a.vocab, a.seqLen, a.tied)
}

// with returns a copy of a whose arrays named in w are replaced by w's.
func (a *arrays) with(w map[string][]float32) *arrays {
	b := *a
	b.w = map[string][]float32{}
	for k, v := range a.w {
		b.w[k] = v
	}
	for k, v := range w {
		b.w[k] = v
	}
	return &b
}
