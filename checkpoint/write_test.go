package checkpoint

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// specialBits are float32 payloads a round trip must keep bit for bit.
var specialBits = []uint32{
	0x7fc00000, // quiet NaN
	0x7fc00001, // quiet NaN with payload
	0xffc12345, // negative quiet NaN with payload
	0x7f800001, // signalling NaN
	0x7f800000, // +Inf
	0xff800000, // -Inf
	0x80000000, // -0
	0x00000001, // smallest subnormal
	0x807fffff, // largest negative subnormal
	0x7f7fffff, // largest finite
}

// randomTensors returns tensors of varied shapes (scalar, empty, multi-chunk)
// and awkward names, holding Gaussian values and every special payload.
func randomTensors(t *testing.T, seed uint64) []Tensor {
	t.Helper()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("randomTensors seed %d", seed)
		}
	})
	rng := rand.New(rand.NewPCG(seed, seed))
	shapes := map[string][]int{
		"embed.W_E":                     {5, 8},
		"blocks.0.attn.W_Q":             {4, 8, 2},
		"blocks.10.attn.W_Q":            {1, 1, 1},
		"scalar":                        {},
		"empty":                         {0},
		"empty.2d":                      {3, 0},
		"big":                           {readChunk/4 + 1000}, // spans several read chunks
		"":                              {2},
		"ünïcödé/名前":                    {3},
		"quote\"back\\slash":            {1},
		"control\x01\x1f\n\t\b\f\r\x7f": {2},
		"<html>&\u2028\u2029":           {2},
	}
	var out []Tensor
	for name, shape := range shapes {
		n, _ := numel(shape)
		data := make([]float32, n)
		for i := range data {
			data[i] = float32(rng.NormFloat64())
		}
		for i, b := range specialBits {
			if i < len(data) {
				data[rng.IntN(len(data))] = math.Float32frombits(b)
			}
		}
		out = append(out, Tensor{Name: name, Shape: shape, Data: data})
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

var testMetadata = map[string]string{
	"format":   "pt",
	"config":   `{"n_layers": 2, "d_model": 64, "act_fn": null}`,
	"ctl\x00":  "tab\tnewline\n\u2028<&>",
	"":         "",
	"unicode€": "名前",
}

func TestRoundTrip(t *testing.T) {
	for _, md := range []map[string]string{nil, testMetadata} {
		tensors := randomTensors(t, 1)
		var buf bytes.Buffer
		if err := Write(&buf, tensors, md); err != nil {
			t.Fatalf("Write: %v", err)
		}
		first := buf.Bytes()
		checkCanonicalLayout(t, first)

		for how, f := range readers(t, first) {
			if !mapsEqual(f.Metadata, md) {
				t.Errorf("%s: Metadata = %q, want %q", how, f.Metadata, md)
			}
			if got := len(f.Tensors()); got != len(tensors) {
				t.Errorf("%s: %d tensors, want %d", how, got, len(tensors))
			}
			var again []Tensor
			for _, want := range tensors {
				data, shape, err := f.Float32(want.Name)
				if err != nil {
					t.Fatalf("%s: Float32(%q): %v", how, want.Name, err)
				}
				if !slices.Equal(shape, want.Shape) || !sameBits(data, want.Data) {
					t.Errorf("%s: Float32(%q) = shape %v, data %v; want shape %v, data %v (bit for bit)",
						how, want.Name, shape, data, want.Shape, want.Data)
				}
				again = append(again, Tensor{Name: want.Name, Shape: shape, Data: data})
			}
			buf.Reset()
			if err := Write(&buf, again, f.Metadata); err != nil {
				t.Fatalf("%s: second Write: %v", how, err)
			}
			if !bytes.Equal(buf.Bytes(), first) {
				t.Errorf("%s: writing what was read gives different bytes", how)
			}
		}
	}
}

// checkCanonicalLayout checks, independently of the reader, that b is laid
// out as the official library lays out F32 tensors: header length a multiple
// of 8 padded with spaces, tensors contiguous in name order.
func checkCanonicalLayout(t *testing.T, b []byte) {
	t.Helper()
	n := binary.LittleEndian.Uint64(b)
	if n%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", n)
	}
	hdr := b[8 : 8+n]
	trimmed := bytes.TrimRight(hdr, " ")
	if len(hdr)-len(trimmed) >= 8 || trimmed[len(trimmed)-1] != '}' {
		t.Errorf("header %q is not a JSON object padded with fewer than 8 spaces", hdr)
	}
	var entries map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &entries); err != nil {
		t.Fatalf("encoding/json cannot read the header: %v", err)
	}
	type entry struct {
		DType   string  `json:"dtype"`
		Offsets []int64 `json:"data_offsets"`
	}
	var names []string
	for name := range entries {
		if name != metadataKey {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var end int64
	for _, name := range names {
		var e entry
		if err := json.Unmarshal(entries[name], &e); err != nil {
			t.Fatalf("entry %q: %v", name, err)
		}
		if e.DType != "F32" || len(e.Offsets) != 2 || e.Offsets[0] != end {
			t.Errorf("entry %q = %+v, want F32 starting at %d (name order)", name, e, end)
		}
		end = e.Offsets[1]
	}
	if want := int64(len(b)) - 8 - int64(n); end != want {
		t.Errorf("tensors end at %d, data section has %d bytes", end, want)
	}
}

// TestWriteLayout pins the exact bytes for a small case, built the way
// safetensors.torch.save_file builds them (see also TestParityFiles, which
// rewrites files made by that library).
func TestWriteLayout(t *testing.T) {
	tensors := []Tensor{
		{Name: "b", Shape: []int{2}, Data: []float32{1, -2}},
		{Name: "a", Shape: []int{}, Data: []float32{0.5}},
	}
	var buf bytes.Buffer
	if err := Write(&buf, tensors, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	hdr := `{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`
	hdr += strings.Repeat(" ", (8-len(hdr)%8)%8)
	want := rawFile(hdr, f32Bytes(0.5, 1, -2))
	if got := buf.Bytes(); !bytes.Equal(got, want) {
		t.Errorf("Write(%v) =\n%q\nwant\n%q", tensors, got, want)
	}
}

func TestWriteInvalid(t *testing.T) {
	ok := Tensor{Name: "ok", Shape: []int{1}, Data: []float32{1}}
	tests := []struct {
		name     string
		tensors  []Tensor
		metadata map[string]string
		want     string
	}{
		{"duplicate name", []Tensor{ok, {Name: "x", Data: []float32{1}}, ok}, nil, `tensor "ok": duplicate name`},
		{"reserved name", []Tensor{{Name: "__metadata__", Data: []float32{1}}}, nil, `tensor "__metadata__": name is reserved`},
		{"name not utf-8", []Tensor{{Name: "a\xff", Data: []float32{1}}}, nil, `tensor "a\xff": name is not valid UTF-8`},
		{"negative dimension", []Tensor{{Name: "n", Shape: []int{-1, -1}, Data: []float32{1}}}, nil, `tensor "n": shape [-1 -1]: negative dimension -1`},
		{"too few elements", []Tensor{ok, {Name: "w", Shape: []int{2, 3}, Data: make([]float32, 5)}}, nil, `tensor "w": shape [2 3] does not match 5 data elements`},
		{"too many elements", []Tensor{{Name: "w", Shape: []int{2}, Data: make([]float32, 3)}}, nil, `tensor "w": shape [2] does not match 3 data elements`},
		{"scalar without data", []Tensor{{Name: "s"}}, nil, `tensor "s": shape [] does not match 0 data elements`},
		{"shape overflow", []Tensor{{Name: "o", Shape: []int{1 << 40, 1 << 40}, Data: []float32{1}}}, nil, `tensor "o": shape [1099511627776 1099511627776] does not match`},
		{"metadata key not utf-8", []Tensor{ok}, map[string]string{"\xfe": "v"}, `__metadata__: entry "\xfe": not valid UTF-8`},
		{"metadata value not utf-8", []Tensor{ok}, map[string]string{"k": "\xfe"}, `__metadata__: entry "k": not valid UTF-8`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := Write(&buf, tt.tensors, tt.metadata)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrFormat) {
				t.Errorf("Write(%v, %q) = %v, want ErrFormat containing %q", tt.tensors, tt.metadata, err, tt.want)
			}
			if buf.Len() != 0 {
				t.Errorf("Write wrote %d bytes before failing, want 0", buf.Len())
			}
		})
	}
}

// failWriter accepts n bytes, then fails.
type failWriter struct{ n int }

var errWrite = errors.New("injected write error")

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		k := w.n
		w.n = 0
		return k, errWrite
	}
	w.n -= len(p)
	return len(p), nil
}

func TestWriteErrors(t *testing.T) {
	tensors := randomTensors(t, 2)
	for _, n := range []int{0, 100, readChunk + 100} {
		if err := Write(&failWriter{n}, tensors, nil); !errors.Is(err, errWrite) {
			t.Errorf("Write to a writer failing after %d bytes = %v, want the write error", n, err)
		}
	}
}

// dirNames lists the names in dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "step-000001.safetensors")
	tensors := randomTensors(t, 3)

	check := func(step string, want []byte) {
		t.Helper()
		if names := dirNames(t, dir); !slices.Equal(names, []string{filepath.Base(path)}) {
			t.Errorf("%s: directory holds %q, want only the checkpoint", step, names)
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: file holds %d bytes (%v), want the %d bytes Write produces", step, len(got), err, len(want))
		}
	}

	var first bytes.Buffer
	if err := Write(&first, tensors, testMetadata); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, tensors, testMetadata); err != nil {
		t.Fatalf("WriteFile: %v", err)
	}
	check("first write", first.Bytes())
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("file mode = %v (%v), want 0644", st.Mode(), err)
	}

	// Overwriting replaces the contents.
	var second bytes.Buffer
	smaller := tensors[:1]
	if err := Write(&second, smaller, nil); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, smaller, nil); err != nil {
		t.Fatalf("WriteFile over an existing file: %v", err)
	}
	check("overwrite", second.Bytes())

	// Invalid tensors, or a failure in the middle of writing, leave the old
	// file alone and no temporary behind.
	bad := []Tensor{{Name: "w", Shape: []int{2}, Data: []float32{1}}}
	if err := WriteFile(path, bad, nil); !errors.Is(err, ErrFormat) {
		t.Errorf("WriteFile(invalid) = %v, want ErrFormat", err)
	}
	check("invalid tensors", second.Bytes())
	err := writeFileAtomic(path, func(w io.Writer) error {
		if _, err := w.Write(first.Bytes()[:100]); err != nil {
			return err
		}
		return errWrite
	})
	if !errors.Is(err, errWrite) {
		t.Errorf("writeFileAtomic with a failing writer = %v, want the write error", err)
	}
	check("failed write", second.Bytes())

	// A missing directory fails without creating anything.
	if err := WriteFile(filepath.Join(dir, "no", "such.safetensors"), tensors, nil); err == nil {
		t.Error("WriteFile into a missing directory succeeded")
	}
	check("missing directory", second.Bytes())
}

func TestWriteFileRelativePath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := WriteFile("model.safetensors", randomTensors(t, 4), nil); err != nil {
		t.Fatalf("WriteFile(relative path): %v", err)
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"model.safetensors"}) {
		t.Errorf("directory holds %q, want only model.safetensors", names)
	}
}
