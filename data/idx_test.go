package data_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/data"
)

// writeFile writes b to name in dir and returns the path.
func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadIDXRoundTrip(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name  string
		shape []int
	}{
		{"vector", []int{7}},
		{"empty big dims", []int{1 << 31, 0, 1 << 31}},
		{"images", []int{3, 4, 5}},
		{"empty", []int{0, 28, 28}},
		{"four-d", []int{2, 1, 3, 2}},
	}
	for _, tt := range tests {
		n := 1
		for _, d := range tt.shape {
			n *= d
		}
		want := make([]byte, n)
		for i := range want {
			want[i] = byte(i*37 + 11)
		}
		for _, gz := range []bool{false, true} {
			p := writeFile(t, dir, tt.name+map[bool]string{true: ".gz", false: ""}[gz], data.EncodeIDX(tt.shape, want, gz))
			shape, got, err := data.ReadIDX(p)
			if err != nil {
				t.Fatalf("%s gzip=%t: %v", tt.name, gz, err)
			}
			if !slices.Equal(shape, tt.shape) || !slices.Equal(got, want) {
				t.Errorf("%s gzip=%t: got shape %v data %v, want %v %v", tt.name, gz, shape, got, tt.shape, want)
			}
		}
	}
}

func TestReadIDXErrors(t *testing.T) {
	dir := t.TempDir()
	good := data.EncodeIDX([]int{2, 3}, []byte{1, 2, 3, 4, 5, 6}, false)
	gzGood := data.EncodeIDX([]int{2, 3}, []byte{1, 2, 3, 4, 5, 6}, true)
	corrupt := slices.Clone(gzGood)
	corrupt[len(corrupt)-6] ^= 0xff // flip a CRC-32 byte of the gzip trailer
	tests := []struct {
		name string
		file []byte
		gz   bool
		want string
	}{
		{"empty file", nil, false, "truncated header"},
		{"short header", []byte{0, 0, 8}, false, "truncated header"},
		{"bad magic", []byte{1, 0, 8, 1, 0, 0, 0, 0}, false, "bad magic 0x01000801"},
		{"int32 type", []byte{0, 0, 0x0c, 1, 0, 0, 0, 0}, false, "element type 0x0c not supported"},
		{"zero dims", []byte{0, 0, 8, 0}, false, "zero dimensions"},
		{"short dims", []byte{0, 0, 8, 2, 0, 0, 0, 1}, false, "truncated dimensions"},
		{"truncated data", good[:len(good)-1], false, "need 6 bytes of data, file holds 5"},
		{"trailing data", append(slices.Clone(good), 9), false, "need 6 bytes of data, file holds 7"},
		{"huge plain", data.EncodeIDX([]int{1 << 31, 1 << 31, 1 << 31}, nil, false), false, "overflow"},
		{"large plain", data.EncodeIDX([]int{1 << 20, 1 << 20}, nil, false), false, "need 1099511627776 bytes of data, file holds 0"},
		{"empty with data", data.EncodeIDX([]int{1 << 31, 1 << 31, 1 << 31, 0}, []byte{1}, false), false, "need 0 bytes of data, file holds 1"},
		{"gzip truncated data", data.EncodeIDX([]int{2, 3}, []byte{1, 2}, true), true, "truncated data"},
		{"gzip trailing data", data.EncodeIDX([]int{2, 2}, []byte{1, 2, 3, 4, 5}, true), true, "trailing data"},
		{"gzip checksum", corrupt, true, "checksum"},
		{"gzip bad header", []byte{0x1f, 0x8b, 1}, true, "gzip"},
		{"gzip huge claim", data.EncodeIDX([]int{1000, 1000, 1000}, nil, true), true, "need 1000000000 bytes of data, a "},
	}
	for _, tt := range tests {
		p := writeFile(t, dir, strings.ReplaceAll(tt.name, " ", "-"), tt.file)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		shape, got, err := data.ReadIDX(p)
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Errorf("%s: ReadIDX = %v %v, nil; want error containing %q", tt.name, shape, got, tt.want)
			continue
		}
		if !errors.Is(err, data.ErrIDX) || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "data: ") {
			t.Errorf("%s: ReadIDX error %q, want \"data: \" prefix, ErrIDX and %q", tt.name, err, tt.want)
		}
		// A header claiming more than the file can hold is rejected before
		// the data are allocated (gzip's own buffers take about 50 KB).
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
			t.Errorf("%s: ReadIDX allocated %d bytes for a %d-byte file", tt.name, alloc, len(tt.file))
		}
	}
	if _, _, err := data.ReadIDX(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadIDX(missing) = %v, want fs.ErrNotExist", err)
	}
}
