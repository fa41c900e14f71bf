package checkpoint

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fuzzSeeds returns valid files of every dtype plus truncated and mangled
// variants of them.
func fuzzSeeds(t testing.TB) [][]byte {
	var buf bytes.Buffer
	tensors := []Tensor{
		{Name: "embed.W_E", Shape: []int{3, 2}, Data: []float32{1, 2, 3, 4, 5, 6}},
		{Name: "s", Shape: []int{}, Data: []float32{-0.5}},
		{Name: "e", Shape: []int{0, 4}},
	}
	if err := Write(&buf, tensors, map[string]string{"format": "pt", "k\n": `"v"`}); err != nil {
		t.Fatal(err)
	}
	valid := [][]byte{
		buf.Bytes(),
		rawFile(`{}`, nil),
		rawFile(`{"__metadata__":{}}`, nil),
		oneTensorFile(F16, []byte{0, 0x3c, 0xff, 0x7f}),
		oneTensorFile(BF16, []byte{0x80, 0x3f, 1, 0xff}),
		oneTensorFile(F64, make([]byte, 16)),
		oneTensorFile(I64, []byte{1, 2, 3, 4, 5, 6, 7, 0x80}),
		oneTensorFile(I32, []byte{1, 2, 3, 4}),
		oneTensorFile(U8, []byte{1, 2, 3}),
		oneTensorFile(BOOL, []byte{0, 1}),
		oneTensorFile(F8E4M3, []byte{1}),
		rawFile(`{"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"a":{"dtype":"I8","shape":[2,2],"data_offsets":[0,4]}}`, make([]byte, 8)),
	}
	// One fixture model, when the shared fixtures are there, adds a real
	// file to the seeds; the other seeds make the target whole without it.
	if paths, _ := filepath.Glob(filepath.Join("../../shared/testdata/parity", "*", "model.safetensors")); len(paths) > 0 {
		if b, err := os.ReadFile(paths[0]); err == nil {
			valid = append(valid, b)
		}
	}
	seeds := slices.Clone(valid)
	for _, v := range valid {
		seeds = append(seeds,
			v[:len(v)/2],               // truncated in the header or data
			v[:len(v)-1],               // one byte short
			append(slices.Clone(v), 0), // one trailing byte
		)
		mangled := slices.Clone(v)
		mangled[0]++ // header length off by one
		seeds = append(seeds, mangled)
		if i := bytes.Index(v, []byte(`"shape":[`)); i >= 0 {
			m := slices.Clone(v)
			m[i+len(`"shape":[`)] = '9' // wrong dimension
			seeds = append(seeds, m)
		}
		if i := bytes.Index(v, []byte(`"F`)); i >= 0 {
			m := slices.Clone(v)
			m[i+2] = 'X' // unknown dtype
			seeds = append(seeds, m)
		}
	}
	return append(seeds, nil, []byte{2, 0, 0, 0, 0, 0, 0, 0}, withPrefix(2, "{}"), withPrefix(8, `{"a":1} `))
}

func TestFuzzSeedsSanity(t *testing.T) {
	var ok, bad int
	for _, s := range fuzzSeeds(t) {
		if _, err := Parse(s); err == nil {
			ok++
		} else {
			bad++
		}
	}
	if ok < 10 || bad < 10 {
		t.Errorf("fuzz seeds: %d valid, %d invalid; want a good mix", ok, bad)
	}
}

// FuzzRead checks that arbitrary bytes never make the reader panic, that
// Parse and Read agree, that every error is a format error, and that a valid
// file's tensors can all be read and survive a write/read round trip.
func FuzzRead(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pf, err := Parse(b)
		rf, rerr := Read(bytes.NewReader(b), int64(len(b)))
		if (err == nil) != (rerr == nil) || (err != nil && err.Error() != rerr.Error()) {
			t.Fatalf("Parse error %v, Read error %v; want the same", err, rerr)
		}
		if err != nil {
			if !errors.Is(err, ErrFormat) || !strings.HasPrefix(err.Error(), "checkpoint: ") {
				t.Fatalf("error %q: want a prefixed ErrFormat", err)
			}
			return
		}

		infos := pf.Tensors()
		if !slices.EqualFunc(infos, rf.Tensors(), infoEqual) {
			t.Fatalf("Parse and Read disagree on the tensors")
		}
		var out []Tensor
		allF32 := true
		for i, info := range infos {
			if i > 0 && infos[i-1].Name >= info.Name {
				t.Fatalf("Tensors not sorted: %q before %q", infos[i-1].Name, info.Name)
			}
			if got := int64(info.Numel()) * int64(info.DType.Size()); got != info.End-info.Begin {
				t.Fatalf("tensor %q: %d bytes by shape, %d by offsets", info.Name, got, info.End-info.Begin)
			}
			data, shape, err := pf.Float32(info.Name)
			if !info.DType.convertible() {
				allF32 = false
				if err == nil {
					t.Fatalf("Float32(%q) of %s succeeded", info.Name, info.DType)
				}
				continue
			}
			if err != nil || len(data) != info.Numel() || !slices.Equal(shape, info.Shape) {
				t.Fatalf("Float32(%q) = %d values, %v, %v; want %d values, shape %v", info.Name, len(data), shape, err, info.Numel(), info.Shape)
			}
			rdata, _, err := rf.Float32(info.Name)
			if err != nil || !sameBits(rdata, data) {
				t.Fatalf("Read's Float32(%q) differs from Parse's (%v)", info.Name, err)
			}
			allF32 = allF32 && info.DType == F32
			out = append(out, Tensor{Name: info.Name, Shape: shape, Data: data})
		}
		if !allF32 {
			return
		}

		var buf bytes.Buffer
		if err := Write(&buf, out, pf.Metadata); err != nil {
			t.Fatalf("Write of a valid file's tensors: %v", err)
		}
		again, err := Parse(buf.Bytes())
		if err != nil {
			t.Fatalf("Parse of rewritten file: %v", err)
		}
		if !mapsEqual(again.Metadata, pf.Metadata) {
			t.Fatalf("metadata changed: %q → %q", pf.Metadata, again.Metadata)
		}
		for _, want := range out {
			got, shape, err := again.Float32(want.Name)
			if err != nil || !slices.Equal(shape, want.Shape) || !sameBits(got, want.Data) {
				t.Fatalf("tensor %q changed in a round trip (%v)", want.Name, err)
			}
		}
	})
}
