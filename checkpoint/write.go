package checkpoint

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Tensor is a named float32 tensor to write: Data holds the elements in
// row-major order and must have exactly the product of Shape elements (one for
// a scalar, Shape empty).
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// Write writes tensors and metadata to w as a safetensors file of F32 tensors,
// laid out byte for byte as the official Python library (safetensors.torch
// save_file) lays out the same float32 tensors: the header is compact JSON
// with "__metadata__" first (its keys sorted; omitted when metadata is
// empty), tensors are sorted by name and stored contiguously in that order,
// and the header is padded with spaces to a multiple of 8 bytes. Float bits,
// NaN payloads included, are written unchanged.
//
// Write validates everything before writing anything: names must be unique,
// valid UTF-8 and not "__metadata__"; dimensions must be non-negative and
// their product must equal len(Data); metadata must be valid UTF-8.
// Validation errors match ErrFormat; errors from w are wrapped. Write does not
// retain tensors or metadata.
func Write(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	hdr, order, err := encodeHeader(tensors, metadata)
	if err != nil {
		return err
	}
	if _, err := w.Write(hdr); err != nil {
		return fmt.Errorf("checkpoint: write header: %w", err)
	}
	buf := make([]byte, 0, readChunk)
	for _, i := range order {
		for _, v := range tensors[i].Data {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			if len(buf) == cap(buf) {
				if _, err := w.Write(buf); err != nil {
					return fmt.Errorf("checkpoint: write tensor %q: %w", tensors[i].Name, err)
				}
				buf = buf[:0]
			}
		}
	}
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("checkpoint: write data: %w", err)
	}
	return nil
}

// encodeHeader validates tensors and metadata and returns the length prefix
// plus padded JSON header, and the indices of tensors in name order.
func encodeHeader(tensors []Tensor, metadata map[string]string) (hdr []byte, order []int, err error) {
	order = make([]int, len(tensors))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(tensors[a].Name, tensors[b].Name) })
	for k, i := range order {
		t := &tensors[i]
		switch {
		case k > 0 && tensors[order[k-1]].Name == t.Name:
			return nil, nil, tensorErr(t.Name, "duplicate name")
		case t.Name == metadataKey:
			return nil, nil, tensorErr(t.Name, "name is reserved for metadata")
		case !utf8.ValidString(t.Name):
			return nil, nil, tensorErr(t.Name, "name is not valid UTF-8")
		}
		for _, d := range t.Shape {
			if d < 0 {
				return nil, nil, tensorErr(t.Name, "shape %v: negative dimension %d", t.Shape, d)
			}
		}
		if n, ok := numel(t.Shape); !ok || n != uint64(len(t.Data)) {
			return nil, nil, tensorErr(t.Name, "shape %v does not match %d data elements", t.Shape, len(t.Data))
		}
	}

	b := make([]byte, 8, 64+64*len(tensors)) // room for the length prefix
	b = append(b, '{')
	if len(metadata) > 0 {
		keys := make([]string, 0, len(metadata))
		for k, v := range metadata {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				return nil, nil, formatErr("%s: entry %q: not valid UTF-8", metadataKey, k)
			}
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = appendString(b, metadataKey)
		b = append(b, ":{"...)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendString(b, metadata[k])
		}
		b = append(b, '}')
	}
	var off int64
	for k, i := range order {
		t := &tensors[i]
		if k > 0 || len(metadata) > 0 {
			b = append(b, ',')
		}
		b = appendString(b, t.Name)
		b = append(b, `:{"dtype":"F32","shape":[`...)
		for j, d := range t.Shape {
			if j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(d), 10)
		}
		end := off + 4*int64(len(t.Data))
		b = append(b, `],"data_offsets":[`...)
		b = strconv.AppendInt(b, off, 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, end, 10)
		b = append(b, "]}"...)
		off = end
	}
	b = append(b, '}')
	for len(b)%8 != 0 {
		b = append(b, ' ')
	}
	if len(b)-8 > MaxHeaderSize {
		return nil, nil, formatErr("header of %d bytes exceeds the limit of %d bytes", len(b)-8, MaxHeaderSize)
	}
	binary.LittleEndian.PutUint64(b, uint64(len(b)-8))
	return b, order, nil
}

// appendString appends s as a JSON string escaped as serde_json (and so the
// official library) escapes it: quote, backslash and control characters only,
// the short forms \b \t \n \f \r where they exist and \u00xx otherwise.
// s must be valid UTF-8.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\b':
			b = append(b, `\b`...)
		case c == '\t':
			b = append(b, `\t`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '\f':
			b = append(b, `\f`...)
		case c == '\r':
			b = append(b, `\r`...)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// WriteFile writes tensors and metadata to the file at path as Write does,
// atomically: the bytes go to a temporary file in the same directory, which
// is synced to disk and then renamed over path, so that readers see either
// the old file or the complete new one. On error no temporary file is left
// behind and an existing file at path is untouched. The file gets mode 0644.
func WriteFile(path string, tensors []Tensor, metadata map[string]string) error {
	if _, _, err := encodeHeader(tensors, metadata); err != nil {
		return err // fail before touching the file system
	}
	return writeFileAtomic(path, func(w io.Writer) error { return Write(w, tensors, metadata) })
}

// WriteAtomic creates (or replaces) the file at path with the bytes write
// produces, as WriteFile does: through a synced temporary file named
// ".BASE.tmp-*" beside path (see IsTemp), renamed into place. Run folders
// write their JSON files with it.
func WriteAtomic(path string, write func(io.Writer) error) error {
	return writeFileAtomic(path, write)
}

// tempInfix marks the temporary files of WriteFile and WriteAtomic.
const tempInfix = ".tmp-"

// IsTemp reports whether a file name (without directory) is one of the
// temporary files WriteFile and WriteAtomic create, which a process killed
// mid-write leaves behind. Only the process writing the folder may remove
// them.
func IsTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, tempInfix)
}

// writeFileAtomic creates path with the bytes write produces, through a
// synced temporary file renamed into place.
func writeFileAtomic(path string, write func(io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+tempInfix+"*")
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close() // may already be closed; the first error matters
			os.Remove(tmp.Name())
		}
	}()
	if err := write(tmp); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable. Windows cannot sync directories, and
// there the rename is durable once it returns.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("checkpoint: sync %s: %w", dir, err)
	}
	return nil
}
