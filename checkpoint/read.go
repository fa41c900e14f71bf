package checkpoint

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"slices"
)

// Info describes one tensor of a file as its header states it.
type Info struct {
	Name  string
	DType DType
	Shape []int // row-major dimensions; [] for a scalar (one element)
	// Begin and End are the tensor's byte range [Begin, End) relative to the
	// start of the data section, which follows the header.
	Begin, End int64
}

// Numel returns the number of elements of the tensor: the product of its
// shape, 1 for a scalar. For an Info returned by a File it equals
// (End-Begin)/DType.Size().
func (t Info) Numel() int {
	n, _ := numel(t.Shape) // validated when the file was read
	return int(n)
}

// clone returns a copy of t that shares no memory with it.
func (t Info) clone() Info {
	t.Shape = slices.Clone(t.Shape)
	return t
}

// File is a validated safetensors file. Its header has been checked in full
// when it is returned (see the package documentation); tensor data are read on
// demand by Float32 and Float32Into.
//
// A File is safe for concurrent use by multiple goroutines, provided nobody
// modifies Metadata (or, for Parse, the byte slice) meanwhile.
type File struct {
	// Metadata is the header's "__metadata__" map, nil if the header has none.
	Metadata map[string]string

	tensors   []Info         // sorted by name
	index     map[string]int // name → position in tensors
	r         io.ReaderAt    // the whole file; nil when data is set
	data      []byte         // the whole file, for Parse
	dataStart int64          // offset of the data section: 8 + header length
	closer    io.Closer      // the *os.File opened by Open, else nil
}

// Open opens and validates the safetensors file at path. The returned File
// keeps the file open to read tensor data lazily; call Close when done.
func Open(path string) (*File, error) {
	osf, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	st, err := osf.Stat()
	if err != nil {
		osf.Close()
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	f, err := Read(osf, st.Size())
	if err != nil {
		osf.Close()
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	f.closer = osf
	return f, nil
}

// Read reads and validates the header of a safetensors file of size bytes
// accessed through r. The returned File reads tensor data from r on demand,
// so r must stay readable (and unchanged) while the File is in use; like
// every io.ReaderAt it must allow parallel ReadAt calls.
//
// Read allocates no more than the header length stated in the file, after
// checking that length against size and MaxHeaderSize.
func Read(r io.ReaderAt, size int64) (*File, error) {
	if size == 0 {
		return nil, formatErr("not a safetensors file: the file is empty")
	}
	var prefix [8]byte
	if err := readFullAt(r, prefix[:min(size, 8)], 0); err != nil {
		return nil, fmt.Errorf("checkpoint: read header length: %w", err)
	}
	n := binary.LittleEndian.Uint64(prefix[:])
	if size < 8 || n < 2 || n > uint64(size-8) {
		// Not a safetensors file, or a damaged one: say what it looks like.
		head := make([]byte, min(size, sniffLen))
		if err := readFullAt(r, head, 0); err != nil {
			return nil, fmt.Errorf("checkpoint: read header length: %w", err)
		}
		if what := describeContent(head); what != "" {
			return nil, formatErr("not a safetensors file: it looks like %s", what)
		}
	}
	switch {
	case size < 8:
		return nil, formatErr("not a safetensors file: %d bytes, too short for even the 8-byte header length", size)
	case n > uint64(size-8) && n > MaxHeaderSize:
		// Not a length a writer could have meant: this is some other file.
		return nil, formatErr("not a safetensors file: its first 8 bytes, read as the header length, say %d bytes, more than the file holds (%d)", n, size)
	case n < 2:
		return nil, formatErr("header length %d too small, want at least 2", n)
	case n > uint64(size-8):
		return nil, formatErr("header length %d exceeds the %d bytes after the length prefix", n, size-8)
	case n > MaxHeaderSize:
		return nil, formatErr("header length %d exceeds the limit of %d bytes", n, MaxHeaderSize)
	}
	hdr := make([]byte, n)
	if err := readFullAt(r, hdr, 8); err != nil {
		return nil, fmt.Errorf("checkpoint: read header: %w", err)
	}
	dataStart := 8 + int64(n)
	infos, meta, err := parseHeader(hdr, size-dataStart)
	if err != nil {
		return nil, err
	}
	index := make(map[string]int, len(infos))
	for i, t := range infos {
		index[t.Name] = i
	}
	return &File{Metadata: meta, tensors: infos, index: index, r: r, dataStart: dataStart}, nil
}

// Parse validates the safetensors file held in b. The returned File aliases b,
// which must not be modified while the File is in use; reading tensors from it
// copies nothing but the converted values.
func Parse(b []byte) (*File, error) {
	f, err := Read(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, err
	}
	f.r, f.data = nil, b
	return f, nil
}

// Close closes the file opened by Open; afterwards reading tensor data fails.
// For a File from Read or Parse it does nothing and returns nil.
func (f *File) Close() error {
	if f.closer == nil {
		return nil
	}
	return f.closer.Close()
}

// Tensors returns a description of every tensor in the file, sorted by name.
// The result is a fresh copy that the caller may modify.
func (f *File) Tensors() []Info {
	out := make([]Info, len(f.tensors))
	for i, t := range f.tensors {
		out[i] = t.clone()
	}
	return out
}

// Info returns the description of the tensor called name, and whether the
// file has one. The Info is a copy that the caller may modify.
func (f *File) Info(name string) (Info, bool) {
	i, ok := f.index[name]
	if !ok {
		return Info{}, false
	}
	return f.tensors[i].clone(), true
}

// Float32 returns the tensor called name converted to float32, and its shape
// (row-major; [] for a scalar). It allocates the result and, for a File from
// Read or Open, one bounded read buffer. The dtypes
// F32, F16 and BF16 convert exactly with NaN payloads kept; F64 and the integer
// types round to nearest; BOOL gives 0 or 1; the 8-bit float types are not
// supported. A missing tensor gives an error matching ErrNotFound.
func (f *File) Float32(name string) (data []float32, shape []int, err error) {
	t, err := f.lookup(name)
	if err != nil {
		return nil, nil, err
	}
	data = make([]float32, t.Numel())
	if err := f.read(data, t); err != nil {
		return nil, nil, err
	}
	return data, slices.Clone(t.Shape), nil
}

// Float32Into converts the tensor called name to float32 (as Float32 does)
// and writes it into dst, which must have exactly as many elements as the
// tensor. If wantShape is not nil the tensor's shape must equal it (pass
// []int{} to require a scalar), else the error is a *ShapeError naming the
// tensor and both shapes. Float32Into allocates nothing for a File from Parse,
// and one bounded read buffer otherwise.
func (f *File) Float32Into(dst []float32, name string, wantShape []int) error {
	t, err := f.lookup(name)
	if err != nil {
		return err
	}
	if wantShape != nil && !slices.Equal(wantShape, t.Shape) {
		return &ShapeError{Name: name, Want: slices.Clone(wantShape), Got: slices.Clone(t.Shape)}
	}
	if n := t.Numel(); len(dst) != n {
		return fmt.Errorf("checkpoint: tensor %q: len(dst) = %d, want %d for shape %v", name, len(dst), n, t.Shape)
	}
	return f.read(dst, t)
}

// lookup returns the named tensor's Info (not a copy), checking that
// Float32 can convert its dtype.
func (f *File) lookup(name string) (*Info, error) {
	i, ok := f.index[name]
	if !ok {
		return nil, notFound(name)
	}
	t := &f.tensors[i]
	if !t.DType.convertible() {
		return nil, fmt.Errorf("checkpoint: tensor %q: cannot convert dtype %s to float32", name, t.DType)
	}
	return t, nil
}

// readChunk is the size in bytes of the buffer that streams tensor data from
// an io.ReaderAt: big enough to amortise each ReadAt, small enough to stay in
// cache. It is a multiple of every dtype size.
const readChunk = 64 << 10

// read converts tensor t into dst, len(dst) == t.Numel().
func (f *File) read(dst []float32, t *Info) error {
	size := int64(t.DType.Size())
	off := f.dataStart + t.Begin
	if f.data != nil {
		decode(dst, f.data[off:f.dataStart+t.End], t.DType)
		return nil
	}
	buf := make([]byte, min(t.End-t.Begin, readChunk))
	for done := int64(0); done < t.End-t.Begin; {
		k := min(int64(len(buf)), t.End-t.Begin-done)
		if err := readFullAt(f.r, buf[:k], off+done); err != nil {
			return fmt.Errorf("checkpoint: tensor %q: read data: %w", t.Name, err)
		}
		decode(dst[done/size:(done+k)/size], buf[:k], t.DType)
		done += k
	}
	return nil
}

// readFullAt fills p from r at offset off; a short read is
// io.ErrUnexpectedEOF.
func readFullAt(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil // ReadAt may report io.EOF along with a full read at the end
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}
