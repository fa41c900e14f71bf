package data

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
)

// ErrIDX is wrapped by every error ReadIDX returns for a file that is not a
// well-formed unsigned-byte IDX file.
var ErrIDX = errors.New("bad idx file")

const (
	idxUbyte = 0x08 // IDX element type: unsigned byte
	// maxDeflateRatio bounds the size of deflate output per input byte (a
	// 258-byte match costs at least 2 bits: 258·8/2 = 1032), so a gzip file
	// of n bytes never holds more than n·maxDeflateRatio bytes.
	maxDeflateRatio = 1032
)

// ReadIDX reads an IDX file, the format of LeCun's MNIST and of
// Fashion-MNIST (http://yann.lecun.com/exdb/mnist/): a big-endian header
//
//	0x00 0x00 type ndims   dim[0] ... dim[ndims−1] (uint32 each)
//
// followed by the elements in row-major order. The file may be plain or
// gzip-compressed; gzip is detected by its magic bytes 0x1f 0x8b, not by the
// file name. Only element type 0x08 (unsigned byte) is supported.
//
// It returns the dimensions and the raw bytes, of length the product of the
// dimensions. It validates the header against the file before allocating
// the data: a plain file must hold exactly the bytes the header claims, a
// gzip file at most what its compressed size can expand to, and a gzip stream
// must end right after the data with a valid checksum. Every failure is an
// error, never a panic; errors about the format wrap ErrIDX.
func ReadIDX(path string) (shape []int, data []byte, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("data: %w", err)
	}
	shape, data, err = decodeIDX(f, fi.Size())
	if err != nil {
		return nil, nil, fmt.Errorf("data: %s: %w", path, err)
	}
	return shape, data, nil
}

// decodeIDX decodes an IDX stream of size bytes (plain or gzip) from r.
func decodeIDX(r io.Reader, size int64) ([]int, []byte, error) {
	br := bufio.NewReader(r)
	var src io.Reader = br
	capacity := size // upper bound on header+data bytes in the stream
	gz := false
	if m, _ := br.Peek(2); len(m) == 2 && m[0] == 0x1f && m[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: gzip: %v", ErrIDX, err)
		}
		defer zr.Close()
		src, gz = zr, true
		capacity = math.MaxInt64
		if size <= math.MaxInt64/maxDeflateRatio {
			capacity = size * maxDeflateRatio
		}
	}

	var hdr [4]byte
	if err := readFull(src, hdr[:], "header"); err != nil {
		return nil, nil, err
	}
	if hdr[0] != 0 || hdr[1] != 0 {
		return nil, nil, fmt.Errorf("%w: bad magic %#08x (want 0x0000TTNN)", ErrIDX, binary.BigEndian.Uint32(hdr[:]))
	}
	if hdr[2] != idxUbyte {
		return nil, nil, fmt.Errorf("%w: element type %#02x not supported (want 0x08, unsigned byte)", ErrIDX, hdr[2])
	}
	nd := int(hdr[3])
	if nd == 0 {
		return nil, nil, fmt.Errorf("%w: zero dimensions", ErrIDX)
	}
	var dims [4 * 255]byte
	if err := readFull(src, dims[:4*nd], "dimensions"); err != nil {
		return nil, nil, err
	}
	hdrLen := int64(4 + 4*nd)

	shape := make([]int, nd)
	n := int64(1)
	overflow := false
	for i := range shape {
		d := int64(binary.BigEndian.Uint32(dims[4*i:]))
		shape[i] = int(d)
		if d != 0 && n > math.MaxInt64/d {
			overflow = true
		}
		n *= d
	}
	switch {
	case slices.Contains(shape, 0):
		n = 0 // an empty array, whatever the other dimensions
		if !gz && size != hdrLen {
			return nil, nil, fmt.Errorf("%w: dimensions %v need 0 bytes of data, file holds %d", ErrIDX, shape, size-hdrLen)
		}
	case overflow || n > math.MaxInt:
		return nil, nil, fmt.Errorf("%w: dimensions %v overflow", ErrIDX, shape)
	case !gz && n != size-hdrLen:
		return nil, nil, fmt.Errorf("%w: dimensions %v need %d bytes of data, file holds %d",
			ErrIDX, shape, n, size-hdrLen)
	case gz && n > capacity-hdrLen:
		return nil, nil, fmt.Errorf("%w: dimensions %v need %d bytes of data, a %d-byte gzip file holds at most %d",
			ErrIDX, shape, n, size, capacity-hdrLen)
	}

	data := make([]byte, n)
	if err := readFull(src, data, fmt.Sprintf("data (want %d bytes for dimensions %v)", n, shape)); err != nil {
		return nil, nil, err
	}
	if gz {
		// Read past the end to reach EOF, which is where gzip verifies its
		// checksum, and to reject trailing data.
		var one [1]byte
		switch _, err := io.ReadFull(src, one[:]); {
		case err == nil:
			return nil, nil, fmt.Errorf("%w: trailing data after %d bytes for dimensions %v", ErrIDX, n, shape)
		case err != io.EOF:
			return nil, nil, fmt.Errorf("%w: gzip: %v", ErrIDX, err)
		}
	}
	return shape, data, nil
}

// readFull is io.ReadFull with errors that name what was being read.
func readFull(r io.Reader, buf []byte, what string) error {
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return fmt.Errorf("%w: truncated %s", ErrIDX, what)
		}
		return fmt.Errorf("%w: reading %s: %v", ErrIDX, what, err)
	}
	return nil
}
