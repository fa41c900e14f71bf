package llama2c

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/internal/testenv"
	"github.com/mechinterp/workbench/transformer"
	"github.com/mechinterp/workbench/transformer/transformertest"
)

// parityTol is the bar for logits against llama2.c's run.c
// (float32 both sides, summed in different orders).
const parityTol = 1e-4

// TestStories260KParity loads the legacy stories260K checkpoint and
// compares its logits with those llama2.c's run.c computed, and its greedy
// continuation over the prefix where run.c's choice has a clear margin.
func TestStories260KParity(t *testing.T) {
	dir := testenv.SharedDir(t, "llama2c")
	path := filepath.Join(dir, "stories260K.bin")
	if !IsCheckpoint(path) {
		t.Fatalf("IsCheckpoint(%s) = false", path)
	}
	m, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	c := m.Cfg
	if c.DModel != 64 || c.NLayers != 5 || c.NHeads != 8 || c.NKeyValueHeads != 4 || c.DMLP != 172 || c.DVocab != 512 || c.NCtx != 512 || !c.TiedEmbeddings || !c.RotaryAdjacentPairs {
		t.Errorf("config %+v", c)
	}
	var toks [][]int
	transformertest.ReadJSON(t, filepath.Join(dir, "tokens.json"), &toks)
	var want struct {
		Logits [][][]float64 `json:"logits"`
		Greedy [][]int       `json:"greedy"`
		Prefix []int         `json:"greedy_stable_prefix"`
	}
	transformertest.ReadJSON(t, filepath.Join(dir, "expected.json"), &want)
	if len(want.Logits) != len(toks) || len(want.Greedy) != len(toks) || len(want.Prefix) != len(toks) {
		t.Fatalf("expected.json holds %d/%d/%d sequences, tokens.json %d", len(want.Logits), len(want.Greedy), len(want.Prefix), len(toks))
	}
	ctx := context.Background()
	for s, seq := range toks {
		logits, err := m.Run(ctx, [][]int{seq}, nil)
		if err != nil {
			t.Fatal(err)
		}
		V := c.DVocab
		var worst float64
		for p := range seq {
			for v := range V {
				worst = math.Max(worst, math.Abs(float64(logits.Data[p*V+v])-want.Logits[s][p][v]))
			}
		}
		t.Logf("sequence %d (%d tokens): max |logit − run.c| = %.3g", s, len(seq), worst)
		if worst > parityTol {
			t.Errorf("sequence %d: max logit difference %g > %g", s, worst, parityTol)
		}
		n := want.Prefix[s]
		prompt := make([]int32, len(seq))
		for i, v := range seq {
			prompt[i] = int32(v)
		}
		got, err := m.Generate(ctx, [][]int32{prompt}, transformer.GenerateOptions{MaxNew: n}) // KV cache, greedy
		if err != nil {
			t.Fatal(err)
		}
		gotNew := make([]int, len(got[0]))
		for i, v := range got[0] {
			gotNew[i] = int(v)
		}
		if !slices.Equal(gotNew, want.Greedy[s][:n]) {
			t.Errorf("sequence %d: greedy %v, run.c %v", s, gotNew, want.Greedy[s][:n])
		}
	}
}

func load(t *testing.T, b []byte) *transformer.Model {
	t.Helper()
	m, err := read(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// logitsOf runs m on a fixed sequence.
func logitsOf(t *testing.T, m *transformer.Model) []float32 {
	t.Helper()
	seq := []int{1, 4, 0, 6, 2, 3}
	l, err := m.Run(context.Background(), [][]int{seq[:min(len(seq), m.Cfg.NCtx)]}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return l.Data
}

// TestVersion1MatchesLegacy: the same arrays written as legacy and as
// version 1 (another order, another header) load to bit-identical
// parameters, tied and untied.
func TestVersion1MatchesLegacy(t *testing.T) {
	for _, tied := range []bool{true, false} {
		a := randomArrays(3, tied)
		v1, _ := a.versioned(1, 0)
		ml, m1 := load(t, a.legacy()), load(t, v1)
		if ml.Cfg != m1.Cfg {
			t.Fatalf("tied %t: configs differ: %+v vs %+v", tied, ml.Cfg, m1.Cfg)
		}
		if !slicesEqual(ml.P.Data(), m1.P.Data()) {
			t.Errorf("tied %t: version 1 parameters differ from legacy", tied)
		}
	}
}

// slicesEqual reports whether a and b are equal bit for bit.
func slicesEqual(a, b []float32) bool {
	return slices.EqualFunc(a, b, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
}

// TestUntiedClassifier: an untied model whose wcls equals its token
// embedding computes the tied model's logits exactly (so W_U is wclsᵀ),
// and changing wcls changes them.
func TestUntiedClassifier(t *testing.T) {
	tied := randomArrays(4, true)
	untied := randomArrays(4, false)
	for k, v := range tied.w {
		untied.w[k] = v
	}
	untied.w["wcls"] = append([]float32(nil), tied.w["token_embedding"]...)
	mt, mu := load(t, tied.legacy()), load(t, untied.legacy())
	if mu.Cfg.TiedEmbeddings {
		t.Fatal("negative vocab_size read as tied")
	}
	if lt, lu := logitsOf(t, mt), logitsOf(t, mu); !slicesEqual(lt, lu) {
		t.Errorf("untied with wcls = embedding: logits %v, tied %v", lu[:5], lt[:5])
	}
	untied.w["wcls"][3] += 1
	if lt, lu := logitsOf(t, mt), logitsOf(t, load(t, untied.legacy())); slicesEqual(lt, lu) {
		t.Error("changing wcls left the logits unchanged")
	}
}

// TestVersion2Dequantizes: a Q8_0 file loads to the model of its
// dequantized weights (int8 · scale, computed by the test's own
// quantizer), bit for bit, with the norms kept in float32.
func TestVersion2Dequantizes(t *testing.T) {
	for _, tied := range []bool{true, false} {
		a := randomArrays(5, tied)
		v2, deq := a.versioned(2, 4)
		m2 := load(t, v2)
		want := load(t, a.with(deq).legacy())
		if !slicesEqual(m2.P.Data(), want.P.Data()) {
			t.Errorf("tied %t: version 2 parameters are not the dequantized weights", tied)
		}
		if slicesEqual(m2.P.Data(), load(t, a.legacy()).P.Data()) {
			t.Errorf("tied %t: quantization changed nothing (test too weak)", tied)
		}
	}
}

// TestMalformed: broken files are refused with an error naming the
// problem, never a panic.
func TestMalformed(t *testing.T) {
	good := randomArrays(6, true)
	legacy := good.legacy()
	v1, _ := good.versioned(1, 0)
	v2, _ := good.versioned(2, 4)
	edit := func(b []byte, f func(b []byte)) []byte {
		c := append([]byte(nil), b...)
		f(c)
		return c
	}
	setInt := func(at, v int) func(b []byte) {
		return func(b []byte) { binary.LittleEndian.PutUint32(b[at:], uint32(int32(v))) }
	}
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "shorter than the legacy header"},
		{"short legacy header", legacy[:20], "shorter than the legacy header"},
		{"truncated legacy", legacy[:len(legacy)-4], "implies"},
		{"legacy with trailing bytes", append(append([]byte(nil), legacy...), 0, 0, 0, 0), "implies"},
		{"zero dim", edit(legacy, setInt(0, 0)), "dim 0"},
		{"negative layers", edit(legacy, setInt(8, -3)), "n_layers -3"},
		{"huge hidden_dim", edit(legacy, setInt(4, 1<<30)), "hidden_dim"},
		{"huge but consistent-looking", edit(legacy, func(b []byte) {
			for i, v := range []int{1 << 20, 1 << 20, 64, 16, 16, 1 << 20, 4096} { // ~1 TB of weights
				binary.LittleEndian.PutUint32(b[4*i:], uint32(v))
			}
		}), "implies"},
		{"heads do not divide dim", edit(legacy, setInt(12, 3)), "n_heads 3"},
		{"kv heads do not divide heads", edit(legacy, setInt(16, 3)), "n_kv_heads 3"},
		{"odd head size", edit(legacy, setInt(12, 8)), "even head size"},
		{"zero seq_len", edit(legacy, setInt(24, 0)), "seq_len 0"},
		{"short versioned header", v1[:100], "shorter than the versioned header"},
		{"version 3", edit(v1, setInt(4, 3)), "version 3"},
		{"version 0 with magic", edit(v1, setInt(4, 0)), "version 0"},
		{"bad tie flag", edit(v1, func(b []byte) { b[36] = 7 }), "shared-classifier flag 7"},
		{"negative vocab in version 1", edit(v1, setInt(28, -7)), "vocab_size -7"},
		{"truncated version 1", v1[:len(v1)-1], "implies"},
		{"zero group size", edit(v2, setInt(37, 0)), "group size 0"},
		{"group size not dividing", edit(v2, setInt(37, 5)), "group size 5"},
		{"truncated version 2", v2[:len(v2)-4], "implies"},
	} {
		_, err := read(bytes.NewReader(tc.b), int64(len(tc.b)))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "llama2c: ") {
			t.Errorf("%s: error %v, want one naming %q", tc.name, err, tc.want)
		}
	}
}

// TestIsCheckpoint: the sniffer accepts the three formats and refuses a
// safetensors file, a JSON file, a short file and a folder.
func TestIsCheckpoint(t *testing.T) {
	dir := t.TempDir()
	a := randomArrays(7, true)
	v1, _ := a.versioned(1, 0)
	v2, _ := a.versioned(2, 4)
	st := binary.LittleEndian.AppendUint64(nil, 60) // safetensors: u64 header length, then JSON
	st = append(st, []byte(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}        `)...)
	st = append(st, 0, 0, 0, 0)
	for _, tc := range []struct {
		name string
		b    []byte
		want bool
	}{
		{"legacy.bin", a.legacy(), true},
		{"v1.bin", v1, true},
		{"v2.bin", v2, true},
		{"model.safetensors", st, false},
		{"config.json", []byte(`{"n_layers": 1, "d_model": 8, "n_heads": 2}`), false},
		{"short.bin", []byte{1, 2, 3}, false},
	} {
		p := filepath.Join(dir, tc.name)
		if err := os.WriteFile(p, tc.b, 0o644); err != nil {
			t.Fatal(err)
		}
		if got := IsCheckpoint(p); got != tc.want {
			t.Errorf("IsCheckpoint(%s) = %t, want %t", tc.name, got, tc.want)
		}
	}
	if IsCheckpoint(dir) || IsCheckpoint(filepath.Join(dir, "absent.bin")) {
		t.Error("IsCheckpoint accepted a folder or an absent file")
	}
}

// FuzzRead: any bytes are a model or an error, never a panic, and
// anything read has the size its header implies.
func FuzzRead(f *testing.F) {
	a := randomArrays(8, false)
	v1, _ := a.versioned(1, 0)
	v2, _ := a.versioned(2, 4)
	for _, b := range [][]byte{a.legacy(), v1, v2, nil, {0x32, 0x34, 0x6b, 0x61, 2, 0, 0, 0}} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := read(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "llama2c: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			return
		}
		if m.Cfg.NumParams() > 4*len(b)+m.Cfg.NCtx*m.Cfg.DModel+m.Cfg.NLayers*(2*m.Cfg.DModel+m.Cfg.DMLP)+m.Cfg.DVocab {
			t.Errorf("a %d-byte file made %d parameters", len(b), m.Cfg.NumParams())
		}
	})
}

// TestLayoutMapping checks every parameter of a loaded model against the
// llama2.c arrays it comes from, by the mapping written out here (W_Q[h]
// [d_model, d_head] from wq's rows h·d_head…, W_O = woᵀ, W_gate = w1ᵀ,
// W_in = w3ᵀ, W_out = w2ᵀ, W_U = wclsᵀ), on a model whose matrices span
// several read chunks, in float32 and Q8_0.
func TestLayoutMapping(t *testing.T) {
	a := randomSized(9, &arrays{dim: 64, hidden: 1040, layers: 2, heads: 4, kvHeads: 2, vocab: 1030, seqLen: 8})
	if n := a.hidden * a.dim; n <= chunk {
		t.Fatalf("w1 has %d values, not more than a chunk (%d)", n, chunk)
	}
	v2, deq := a.versioned(2, 64)
	q := a.with(deq)
	for _, tc := range []struct {
		name string
		file []byte
		want *arrays
	}{{"legacy", a.legacy(), a}, {"version 2", v2, q}} {
		m := load(t, tc.file)
		checkMapping(t, tc.name, m, tc.want)
	}
}

// checkMapping compares every parameter of m with a's arrays.
func checkMapping(t *testing.T, name string, m *transformer.Model, a *arrays) {
	t.Helper()
	d, hs, n, L := a.dim, a.dim/a.heads, a.hidden, a.layers
	kv := a.kvHeads * hs
	sd := map[string][]float32{}
	for _, tn := range m.StateDict() {
		sd[tn.Name] = tn.Data
	}
	bad := 0
	expect := func(param string, i int, want float32) {
		if got := sd[param][i]; got != want && bad < 5 {
			bad++
			t.Errorf("%s: %s[%d] = %g, want %g", name, param, i, got, want)
		}
	}
	for i, v := range a.w["token_embedding"] {
		expect("embed.W_E", i, v)
	}
	for i := range d {
		expect("ln_final.w", i, a.w["rms_final"][i])
	}
	for l := range L {
		pre := "blocks." + string(rune('0'+l)) + "."
		kvp := pre + "attn._"
		for i := range d {
			expect(pre+"ln1.w", i, a.w["rms_att"][l*d+i])
			expect(pre+"ln2.w", i, a.w["rms_ffn"][l*d+i])
		}
		for h := range a.heads { // W_Q [H, d, dh]; wq [H·dh, d]
			for i := range d {
				for j := range hs {
					expect(pre+"attn.W_Q", (h*d+i)*hs+j, a.w["wq"][l*d*d+(h*hs+j)*d+i])
				}
			}
		}
		for h := range a.kvHeads {
			for i := range d {
				for j := range hs {
					expect(kvp+"W_K", (h*d+i)*hs+j, a.w["wk"][l*kv*d+(h*hs+j)*d+i])
					expect(kvp+"W_V", (h*d+i)*hs+j, a.w["wv"][l*kv*d+(h*hs+j)*d+i])
				}
			}
		}
		for r := range d { // W_O [H·dh, d] = woᵀ, wo [d, H·dh]
			for c := range d {
				expect(pre+"attn.W_O", c*d+r, a.w["wo"][l*d*d+r*d+c])
			}
		}
		for r := range n {
			for c := range d {
				expect(pre+"mlp.W_gate", c*n+r, a.w["w1"][l*n*d+r*d+c])
				expect(pre+"mlp.W_in", c*n+r, a.w["w3"][l*n*d+r*d+c])
				expect(pre+"mlp.W_out", r*d+c, a.w["w2"][l*d*n+c*n+r])
			}
		}
	}
	if !a.tied {
		for r := range a.vocab {
			for c := range d {
				expect("unembed.W_U", c*a.vocab+r, a.w["wcls"][r*d+c])
			}
		}
	}
}

// loadAllocBound is the bound on loading's memory relative to the
// model's float32 weights.
const loadAllocBound = 1.5

// TestLoadAllocatesLittleBeyondTheModel: everything Load allocates (the
// cumulative heap allocation, a bound on its peak) stays within 1.5× the
// model's float32 parameters, for float32 and Q8_0 files: the file is read
// in chunks, never a whole tensor at once (the model's tied embedding
// table is most of it, so a copy of that would double the total).
func TestLoadAllocatesLittleBeyondTheModel(t *testing.T) {
	a := randomSized(10, &arrays{dim: 64, hidden: 128, layers: 1, heads: 4, kvHeads: 2, vocab: 8000, seqLen: 8, tied: true})
	dir := t.TempDir()
	v2, _ := a.versioned(2, 64)
	for _, f := range []struct {
		name string
		b    []byte
	}{{"legacy.bin", a.legacy()}, {"v2.bin", v2}} {
		p := filepath.Join(dir, f.name)
		if err := os.WriteFile(p, f.b, 0o644); err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		m, err := Load(p)
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatal(err)
		}
		weights := 4 * float64(m.Cfg.NumParams())
		ratio := float64(after.TotalAlloc-before.TotalAlloc) / weights
		t.Logf("%s: allocated %.2f× the %.0f bytes of float32 weights", f.name, ratio, weights)
		if ratio > loadAllocBound {
			t.Errorf("%s: Load allocated %.2f× the float32 weights, more than %g×", f.name, ratio, loadAllocBound)
		}
	}
}

// TestSaveReloadsAsSafetensors: a llama2.c model saved as a TransformerLens
// safetensors checkpoint (its config, rotary_adjacent_pairs included, in
// the metadata) loads back to the same config and parameters, bit for bit.
func TestSaveReloadsAsSafetensors(t *testing.T) {
	for _, tied := range []bool{true, false} {
		m := load(t, randomArrays(12, tied).legacy())
		p := filepath.Join(t.TempDir(), "model.safetensors")
		if err := m.Save(p, nil); err != nil {
			t.Fatal(err)
		}
		if IsCheckpoint(p) {
			t.Errorf("tied %t: IsCheckpoint takes the safetensors file for a llama2.c one", tied)
		}
		r, err := transformer.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		if r.Cfg != m.Cfg || !r.Cfg.RotaryAdjacentPairs {
			t.Errorf("tied %t: config %+v, saved %+v", tied, r.Cfg, m.Cfg)
		}
		if !slicesEqual(r.P.Data(), m.P.Data()) {
			t.Errorf("tied %t: parameters differ after the round trip", tied)
		}
	}
}
