package checkpoint

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// rawFile assembles a safetensors file from a literal header (unpadded) and
// data section, so that tests can build any header, valid or not.
func rawFile(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

// withPrefix is rawFile with an arbitrary header length prefix.
func withPrefix(n uint64, rest string) []byte {
	return append(binary.LittleEndian.AppendUint64(nil, n), rest...)
}

// mustParse parses b, failing the test on error.
func mustParse(t *testing.T, b []byte) *File {
	t.Helper()
	f, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return f
}

// readers returns the File for b through each way in: Parse, Read and Open.
func readers(t *testing.T, b []byte) map[string]*File {
	t.Helper()
	path := filepath.Join(t.TempDir(), "f.safetensors")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	opened, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { opened.Close() })
	read, err := Read(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return map[string]*File{"Parse": mustParse(t, b), "Read": read, "Open": opened}
}

const okEntry = `{"dtype":"F32","shape":[2],"data_offsets":[0,8]}`

func TestReadMalformed(t *testing.T) {
	data8 := make([]byte, 8)
	tests := []struct {
		name string
		file []byte
		want string // substring of the error
	}{
		{"empty file", nil, "not a safetensors file: the file is empty"},
		{"short prefix", []byte{1, 0, 0}, "not a safetensors file: 3 bytes, too short"},
		{"header length 0", withPrefix(0, "{}"), "header length 0 too small"},
		{"header length 1", withPrefix(1, "{}"), "header length 1 too small"},
		{"header length beyond file", withPrefix(3, "{}"), "header length 3 exceeds the 2 bytes"},
		{"header length huge", withPrefix(1<<63, "{}"), "not a safetensors file: its first 8 bytes, read as the header length, say 9223372036854775808 bytes"},
		{"header not utf-8", rawFile("{\"\xff\":1}", nil), "not valid UTF-8"},
		{"truncated json", rawFile(`{"a":`, nil), "unexpected end of JSON"},
		{"invalid json", rawFile(`{"a" 1}`, nil), "invalid JSON"},
		{"header not object", rawFile(`[]`, nil), "header: want an object, got an array"},
		{"header is string", rawFile(`"ab"`, nil), "header: want an object, got string"},
		{"trailing json", rawFile(`{} {}`, nil), "header: trailing data after the object: an object"},
		{"trailing garbage", rawFile(`{}x`, nil), "invalid JSON"},
		{"numeric key", rawFile(`{1:2}`, nil), "invalid JSON"},
		{"numeric field", rawFile(`{"a":{1:2}}`, nil), "invalid JSON"},
		{"numeric metadata key", rawFile(`{"__metadata__":{1:"x"}}`, nil), "invalid JSON"},
		{"trailing comma", rawFile(`{"a":`+okEntry+`,}`, data8), "invalid JSON"},
		{"trailing comma in shape", rawFile(`{"a":{"dtype":"F32","shape":[2,],"data_offsets":[0,8]}}`, data8), "invalid JSON"},
		{"entry not object", rawFile(`{"a":1}`, nil), `tensor "a": want an object, got number 1`},
		{"missing dtype", rawFile(`{"a":{"shape":[2],"data_offsets":[0,8]}}`, data8), `tensor "a": missing dtype`},
		{"missing shape", rawFile(`{"a":{"dtype":"F32","data_offsets":[0,8]}}`, data8), `tensor "a": missing shape`},
		{"missing offsets", rawFile(`{"a":{"dtype":"F32","shape":[2]}}`, data8), `tensor "a": missing data_offsets`},
		{"unknown field", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}}`, data8), `tensor "a": unknown field "x"`},
		{"duplicate field", rawFile(`{"a":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, data8), `tensor "a": duplicate field "dtype"`},
		{"unknown dtype", rawFile(`{"a":{"dtype":"F31","shape":[2],"data_offsets":[0,8]}}`, data8), `tensor "a": unknown dtype "F31"`},
		{"lower-case dtype", rawFile(`{"a":{"dtype":"f32","shape":[2],"data_offsets":[0,8]}}`, data8), `tensor "a": unknown dtype "f32"`},
		{"dtype not string", rawFile(`{"a":{"dtype":4,"shape":[2],"data_offsets":[0,8]}}`, data8), `tensor "a": dtype: want a string, got number 4`},
		{"negative dimension", rawFile(`{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}`, data8), `tensor "a": shape: negative dimension -2`},
		{"fractional dimension", rawFile(`{"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}`, data8), `tensor "a": shape: 2.5 is not an integer`},
		{"exponent dimension", rawFile(`{"a":{"dtype":"F32","shape":[2e0],"data_offsets":[0,8]}}`, data8), `tensor "a": shape: 2e0 is not an integer`},
		{"dimension out of range", rawFile(`{"a":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,8]}}`, data8), `tensor "a": shape: 99999999999999999999 is out of range`},
		{"shape not array", rawFile(`{"a":{"dtype":"F32","shape":2,"data_offsets":[0,8]}}`, data8), `tensor "a": shape: want an array, got number 2`},
		{"shape nested", rawFile(`{"a":{"dtype":"F32","shape":[[2]],"data_offsets":[0,8]}}`, data8), `tensor "a": shape: want integers, got an array`},
		{"shape null", rawFile(`{"a":{"dtype":"F32","shape":[null],"data_offsets":[0,8]}}`, data8), `tensor "a": shape: want integers, got null`},
		{"shape overflow", rawFile(`{"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}}`, data8), `tensor "a": shape [4294967296 4294967296 4294967296]: element count overflows`},
		{"byte size overflow", rawFile(`{"a":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,8]}}`, data8), `tensor "a": shape [4611686018427387904] of F64 needs`},
		{"offsets one number", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[8]}}`, data8), `tensor "a": data_offsets: want [begin, end], got 1 numbers`},
		{"offsets three numbers", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8,8]}}`, data8), `tensor "a": data_offsets: want [begin, end], got 3 numbers`},
		{"negative offset", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}`, data8), `tensor "a": data_offsets: negative offset -8`},
		{"offsets reversed", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}`, data8), `tensor "a": data_offsets [8 0]: begin after end`},
		{"offsets beyond data", rawFile(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, data8), `tensor "a": data_offsets [0 16]: out of range of the 8-byte data section`},
		{"truncated data", rawFile(`{"a":`+okEntry+`}`, data8[:5]), `tensor "a": data_offsets [0 8]: out of range of the 5-byte data section`},
		{"shape disagrees with offsets", rawFile(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, data8), `tensor "a": shape [3] of F32 needs 3×4 bytes, data_offsets [0 8] hold 8`},
		{"dtype disagrees with offsets", rawFile(`{"a":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}}`, data8), `tensor "a": shape [2] of F64 needs 2×8 bytes`},
		{"overlap", rawFile(`{"a":`+okEntry+`,"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, make([]byte, 12)), `tensor "b": data_offsets [4 12] overlap tensor "a" [0 8]`},
		{"same offsets", rawFile(`{"b":`+okEntry+`,"a":`+okEntry+`}`, data8), `tensor "b": data_offsets [0 8] overlap tensor "a" [0 8]`},
		{"empty tensor inside another", rawFile(`{"a":`+okEntry+`,"e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}}`, data8), `tensor "e": data_offsets [4 4] overlap tensor "a"`},
		{"gap at start", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, make([]byte, 12)), `tensor "a": data_offsets [4 12]: gap of 4 bytes at the start`},
		{"gap between", rawFile(`{"a":`+okEntry+`,"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}}`, make([]byte, 16)), `tensor "b": data_offsets [12 16]: gap of 4 bytes after tensor "a"`},
		{"trailing bytes", rawFile(`{"a":`+okEntry+`}`, make([]byte, 11)), "data section has 11 bytes, tensors cover only 8 (3 trailing bytes)"},
		{"data without tensors", rawFile(`{}`, data8), "data section has 8 bytes, tensors cover only 0"},
		{"duplicate name", rawFile(`{"a":`+okEntry+`,"a":`+okEntry+`}`, data8), `tensor "a": duplicate name`},
		{"duplicate metadata", rawFile(`{"__metadata__":{},"__metadata__":{}}`, nil), `header: duplicate "__metadata__"`},
		{"metadata not object", rawFile(`{"__metadata__":[]}`, nil), "__metadata__: want an object, got an array"},
		{"metadata number value", rawFile(`{"__metadata__":{"k":1}}`, nil), `__metadata__: value of "k": want a string, got number 1`},
		{"metadata null value", rawFile(`{"__metadata__":{"k":null}}`, nil), `__metadata__: value of "k": want a string, got null`},
		{"metadata object value", rawFile(`{"__metadata__":{"k":{}}}`, nil), `__metadata__: value of "k": want a string, got an object`},
		{"metadata duplicate key", rawFile(`{"__metadata__":{"k":"1","k":"2"}}`, nil), `__metadata__: duplicate key "k"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse(tt.file)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, nil; want error containing %q", tt.file, f.Tensors(), tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse(%q) error = %q, want it to contain %q", tt.file, err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "checkpoint: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			if !errors.Is(err, ErrFormat) {
				t.Errorf("error %q does not match ErrFormat", err)
			}
			// The io.ReaderAt path must agree with Parse.
			if _, rerr := Read(bytes.NewReader(tt.file), int64(len(tt.file))); rerr == nil || rerr.Error() != err.Error() {
				t.Errorf("Read error = %v, Parse error = %v; want the same", rerr, err)
			}
		})
	}
}

// zeroReaderAt is an io.ReaderAt of a given prefix followed by zeros, used to
// present a huge file without allocating it.
type zeroReaderAt struct{ prefix []byte }

func (z zeroReaderAt) ReadAt(p []byte, off int64) (int, error) {
	clear(p)
	if off < int64(len(z.prefix)) {
		copy(p, z.prefix[off:])
	}
	return len(p), nil
}

func TestReadHeaderLimit(t *testing.T) {
	const size = 1 << 40
	n := uint64(MaxHeaderSize + 1)
	_, err := Read(zeroReaderAt{withPrefix(n, "")}, size)
	if err == nil || !strings.Contains(err.Error(), "exceeds the limit") || !errors.Is(err, ErrFormat) {
		t.Errorf("Read with header length %d = %v, want a limit error", n, err)
	}
}

// errReaderAt fails every read after the first limit bytes.
type errReaderAt struct {
	b     []byte
	limit int64
}

var errInjected = errors.New("injected read error")

func (r errReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > r.limit {
		return 0, errInjected
	}
	return copy(p, r.b[off:]), nil
}

func TestReadIOErrors(t *testing.T) {
	b := rawFile(`{"a":`+okEntry+`}`, make([]byte, 8))
	if _, err := Read(errReaderAt{b, 4}, int64(len(b))); !errors.Is(err, errInjected) {
		t.Errorf("Read failing on the length prefix: error %v, want it to wrap the read error", err)
	}
	if _, err := Read(errReaderAt{b, 12}, int64(len(b))); !errors.Is(err, errInjected) {
		t.Errorf("Read failing in the header: error %v, want it to wrap the read error", err)
	}
	f, err := Read(errReaderAt{b, int64(len(b)) - 8}, int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.Float32("a"); !errors.Is(err, errInjected) || !strings.Contains(err.Error(), `tensor "a"`) {
		t.Errorf("Float32 failing in the data: error %v, want it to name the tensor and wrap the read error", err)
	}
	// A reader shorter than the size it claims.
	short := bytes.NewReader(b[:len(b)-1])
	f, err = Read(short, int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.Float32("a"); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("Float32 from a truncated reader: error %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestReadValidEdgeCases(t *testing.T) {
	tests := []struct {
		name   string
		file   []byte
		want   []Info
		wantMD map[string]string
	}{
		{"no tensors", rawFile(`{}`, nil), []Info{}, nil},
		{"padding and whitespace", rawFile(" {\n\t} \r\n  ", nil), []Info{}, nil},
		{"empty metadata", rawFile(`{"__metadata__":{}}`, nil), []Info{}, map[string]string{}},
		{"scalar", rawFile(`{"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}`, make([]byte, 4)),
			[]Info{{"s", F32, []int{}, 0, 4}}, nil},
		{"zero-size tensors", rawFile(`{"z2":{"dtype":"F32","shape":[0,1000000000000],"data_offsets":[8,8]},"a":`+okEntry+`,"z1":{"dtype":"F64","shape":[3,0],"data_offsets":[0,0]}}`, make([]byte, 8)),
			[]Info{{"a", F32, []int{2}, 0, 8}, {"z1", F64, []int{3, 0}, 0, 0}, {"z2", F32, []int{0, 1000000000000}, 8, 8}}, nil},
		{"fields in any order, data out of name order", rawFile(`{"b":{"data_offsets":[0,2],"shape":[1],"dtype":"F16"},"a":{"shape":[1],"dtype":"U8","data_offsets":[2,3]},"__metadata__":{"k":"v\n\u00e9"}}`, make([]byte, 3)),
			[]Info{{"a", U8, []int{1}, 2, 3}, {"b", F16, []int{1}, 0, 2}}, map[string]string{"k": "v\né"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for how, f := range readers(t, tt.file) {
				if got := f.Tensors(); !slices.EqualFunc(got, tt.want, infoEqual) {
					t.Errorf("%s(%q).Tensors() = %v, want %v", how, tt.file, got, tt.want)
				}
				if (f.Metadata == nil) != (tt.wantMD == nil) || !mapsEqual(f.Metadata, tt.wantMD) {
					t.Errorf("%s(%q).Metadata = %#v, want %#v", how, tt.file, f.Metadata, tt.wantMD)
				}
				for _, info := range tt.want {
					data, shape, err := f.Float32(info.Name)
					if err != nil || len(data) != info.Numel() || !slices.Equal(shape, info.Shape) {
						t.Errorf("%s: Float32(%q) = %d values, shape %v, %v; want %d values, shape %v",
							how, info.Name, len(data), shape, err, info.Numel(), info.Shape)
					}
				}
			}
		})
	}
}

func infoEqual(a, b Info) bool {
	return a.Name == b.Name && a.DType == b.DType && slices.Equal(a.Shape, b.Shape) && a.Begin == b.Begin && a.End == b.End
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestInfoAndTensorsReturnCopies(t *testing.T) {
	f := mustParse(t, rawFile(`{"a":`+okEntry+`}`, make([]byte, 8)))
	f.Tensors()[0].Shape[0] = 99
	info, ok := f.Info("a")
	if !ok || info.Shape[0] != 2 {
		t.Fatalf("Info(a) = %v, %v after modifying a Tensors result; want shape [2]", info, ok)
	}
	info.Shape[0] = 99
	if info, _ := f.Info("a"); info.Shape[0] != 2 {
		t.Errorf("Info(a).Shape = %v after modifying an Info result; want [2]", info.Shape)
	}
	if _, ok := f.Info("b"); ok {
		t.Error("Info(b) found a tensor that does not exist")
	}
}

func TestFloat32Into(t *testing.T) {
	b := rawFile(`{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"f8":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[24,25]}}`,
		append(f32Bytes(1, 2, 3, 4, 5, 6), 0))
	for how, f := range readers(t, b) {
		dst := make([]float32, 6)
		if err := f.Float32Into(dst, "w", []int{2, 3}); err != nil || !slices.Equal(dst, []float32{1, 2, 3, 4, 5, 6}) {
			t.Errorf("%s: Float32Into(w, [2 3]) = %v, %v; want [1 2 3 4 5 6]", how, dst, err)
		}
		if err := f.Float32Into(dst, "w", nil); err != nil {
			t.Errorf("%s: Float32Into(w, nil) = %v, want no shape check", how, err)
		}

		err := f.Float32Into(dst, "w", []int{3, 2})
		var se *ShapeError
		if !errors.As(err, &se) || se.Name != "w" || !slices.Equal(se.Want, []int{3, 2}) || !slices.Equal(se.Got, []int{2, 3}) {
			t.Errorf("%s: Float32Into(w, [3 2]) = %v, want a *ShapeError", how, err)
		}
		if want := `checkpoint: tensor "w": want shape [3 2], got [2 3]`; err == nil || err.Error() != want {
			t.Errorf("%s: Float32Into(w, [3 2]) = %v, want %q", how, err, want)
		}
		if err := f.Float32Into(dst, "w", []int{}); !errors.As(err, &se) {
			t.Errorf("%s: Float32Into(w, []) = %v, want a *ShapeError (scalar required)", how, err)
		}
		if err := f.Float32Into(dst[:5], "w", []int{2, 3}); err == nil || !strings.Contains(err.Error(), `tensor "w": len(dst) = 5, want 6`) {
			t.Errorf("%s: Float32Into(5 elements, w) = %v, want a length error", how, err)
		}
		if err := f.Float32Into(dst, "x", nil); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `"x"`) {
			t.Errorf("%s: Float32Into(x) = %v, want ErrNotFound naming x", how, err)
		}
		if _, _, err := f.Float32("f8"); err == nil || !strings.Contains(err.Error(), `tensor "f8": cannot convert dtype F8_E4M3`) {
			t.Errorf("%s: Float32(f8) = %v, want a dtype error", how, err)
		}
	}
}

func TestFloat32IntoAllocs(t *testing.T) {
	// Large enough to need several read chunks.
	data := make([]float32, 3*readChunk/4+5)
	var buf bytes.Buffer
	if err := Write(&buf, []Tensor{{Name: "w", Shape: []int{len(data)}, Data: data}}, nil); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	parsed := mustParse(t, b)
	read, err := Read(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		how  string
		f    *File
		want float64
	}{{"Parse", parsed, 0}, {"Read", read, 1}} {
		allocs := testing.AllocsPerRun(10, func() {
			if err := tt.f.Float32Into(data, "w", []int{len(data)}); err != nil {
				t.Fatal(err)
			}
		})
		if allocs > tt.want {
			t.Errorf("%s: Float32Into allocates %v times per call, want at most %v", tt.how, allocs, tt.want)
		}
	}
}

func TestConcurrentReads(t *testing.T) {
	tensors := randomTensors(t, 7)
	var buf bytes.Buffer
	if err := Write(&buf, tensors, nil); err != nil {
		t.Fatal(err)
	}
	for how, f := range readers(t, buf.Bytes()) {
		var wg sync.WaitGroup
		errs := make(chan error, 8*len(tensors))
		for range 8 {
			wg.Go(func() {
				for _, want := range tensors {
					got, _, err := f.Float32(want.Name)
					if err != nil {
						errs <- err
						continue
					}
					if !sameBits(got, want.Data) {
						errs <- errors.New(how + ": " + want.Name + ": data differ")
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "missing.safetensors")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open(missing) = %v, want os.ErrNotExist", err)
	}
	bad := filepath.Join(dir, "bad.safetensors")
	if err := os.WriteFile(bad, withPrefix(1, "{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(bad); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), bad) {
		t.Errorf("Open(bad) = %v, want ErrFormat naming the path", err)
	}
	good := filepath.Join(dir, "good.safetensors")
	if err := os.WriteFile(good, rawFile(`{"a":`+okEntry+`}`, make([]byte, 8)), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Open(good)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.Float32("a"); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Float32 after Close = %v, want os.ErrClosed", err)
	}
}

// f32Bytes returns the little-endian bytes of vs.
func f32Bytes(vs ...float32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

// sameBits reports whether a and b hold identical float32 bit patterns.
func sameBits(a, b []float32) bool {
	return slices.EqualFunc(a, b, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
}
