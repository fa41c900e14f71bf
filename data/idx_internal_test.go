package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"testing"
)

// encodeIDX returns an unsigned-byte IDX file of the given shape and data,
// gzip-compressed if gz is set. It does not check that the data match the
// shape, so tests can build malformed files.
func encodeIDX(shape []int, data []byte, gz bool) []byte {
	var buf bytes.Buffer
	buf.Write([]byte{0, 0, idxUbyte, byte(len(shape))})
	for _, d := range shape {
		buf.Write(binary.BigEndian.AppendUint32(nil, uint32(d)))
	}
	buf.Write(data)
	if !gz {
		return buf.Bytes()
	}
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	w.Write(buf.Bytes())
	w.Close()
	return z.Bytes()
}

// FuzzDecodeIDX checks that arbitrary input never panics and that whatever
// decodes has data matching its shape. The seed corpus runs under go test.
func FuzzDecodeIDX(f *testing.F) {
	f.Add(encodeIDX([]int{2, 3}, []byte{1, 2, 3, 4, 5, 6}, false))
	f.Add(encodeIDX([]int{2, 3}, []byte{1, 2, 3, 4, 5, 6}, true))
	f.Add(encodeIDX([]int{1 << 30, 1 << 30}, nil, true))
	f.Add(encodeIDX([]int{0}, nil, false))
	f.Add([]byte{0x1f, 0x8b, 0, 0})
	f.Add([]byte{0, 0, 8})
	f.Fuzz(func(t *testing.T, b []byte) {
		shape, data, err := decodeIDX(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			if !errors.Is(err, ErrIDX) {
				t.Fatalf("error %v does not wrap ErrIDX", err)
			}
			return
		}
		n := 1
		for _, d := range shape {
			n *= d
		}
		if n != len(data) {
			t.Fatalf("shape %v holds %d bytes, data has %d", shape, n, len(data))
		}
	})
}
