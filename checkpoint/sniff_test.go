package checkpoint

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// TestReadNotSafetensors gives Read files of other kinds, as users pass
// them to --model, and checks that the error says what the file looks like
// instead of quoting a header length read from someone else's bytes.
func TestReadNotSafetensors(t *testing.T) {
	pickle := append([]byte{0x80, 0x02, '}', 'q', 0}, []byte("collections\nOrderedDict")...)
	tests := []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "the file is empty"},
		{"too short", []byte{0, 1, 2}, "3 bytes, too short"},
		{"one text byte", []byte("x"), "a text file"},
		{"torch.save zip", append([]byte("PK\x03\x04\x00\x00\x08\x08"), make([]byte, 200)...), "a zip archive (PyTorch's torch.save"},
		{"old torch.save pickle", append(pickle, make([]byte, 100)...), "a Python pickle"},
		{"config json", []byte(`{"n_layers": 2, "d_model": 64}`), "JSON text"},
		{"token file", []byte("[[1, 2, 3, 1, 2, 3]]\n"), "JSON text"},
		{"README", []byte("# My model\n\nTrained for 3 epochs.\n"), "a text file"},
		{"utf-8 text", []byte("modèle entraîné — notes\n"), "a text file"},
		{"git lfs pointer", []byte("version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n"), "a Git LFS pointer"},
		{"gguf", append([]byte("GGUF\x03\x00\x00\x00"), make([]byte, 64)...), "a GGUF file"},
		{"numpy", append([]byte("\x93NUMPY\x01\x00"), make([]byte, 64)...), "a NumPy .npy array"},
		{"binary junk", append([]byte{0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef}, make([]byte, 64)...), "read as the header length, say"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.file)
		if err == nil || !strings.Contains(err.Error(), "not a safetensors file") || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s (% x…): error %v, want one saying \"not a safetensors file\" and %q", tt.name, tt.file[:min(len(tt.file), 8)], err, tt.want)
			continue
		}
		if !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v does not match ErrFormat", tt.name, err)
		}
		if strings.Contains(err.Error(), "exceeds") {
			t.Errorf("%s: %v still speaks of a header length", tt.name, err)
		}
	}
}

// TestReadSniffKeepsSafetensors checks that real safetensors files whose
// header-length bytes happen to start like another format's magic number
// (0x80 0x03: a pickle's) are read as safetensors.
func TestReadSniffKeepsSafetensors(t *testing.T) {
	for _, n := range []int{0x0380, 0x0280, 0x0480} {
		hdr := `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}` + strings.Repeat(" ", n-len(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}`)-1) + "}"
		b := binary.LittleEndian.AppendUint64(nil, uint64(len(hdr)))
		b = append(append(b, hdr...), make([]byte, 8)...)
		if b[0] != 0x80 {
			t.Fatalf("header length %#x: first byte %#x, want 0x80", n, b[0])
		}
		if _, err := Parse(b); err != nil {
			t.Errorf("header length %#x (first bytes % x): %v", n, b[:2], err)
		}
	}
}
