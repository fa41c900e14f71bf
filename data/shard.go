package data

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// shardMagic opens a token shard file.
const shardMagic = "WBTOKEN1"

// shardHeader is the size of a shard file's header: magic, width (uint32),
// vocabulary size (uint32), token count (uint64), little-endian.
const shardHeader = len(shardMagic) + 4 + 4 + 8

// MaxShardTokens bounds a shard's length so that a corrupt header cannot ask
// for an unbounded allocation and token offsets fit an int32 comfortably.
const MaxShardTokens = 1 << 31

// A Shard is a tokenized corpus held compactly: one uint16 per token when
// the vocabulary has at most 65,536 tokens, else one uint32. Its file form
// (WriteTo, ReadShard) is a 24-byte header — "WBTOKEN1", the width in bytes
// (2 or 4, uint32), the vocabulary size (uint32) and the token count
// (uint64), little-endian — followed by the tokens, little-endian.
//
// A Shard is read-only once built and safe for concurrent use.
type Shard struct {
	vocab int
	u16   []uint16
	u32   []uint32
}

// NewShard packs tokens, each in [0, vocab), into a Shard. It returns an
// error naming the first token out of range, or if vocab or the length is
// out of bounds.
func NewShard(tokens []int32, vocab int) (*Shard, error) {
	if vocab < 1 || int64(vocab) > math.MaxUint32 {
		return nil, fmt.Errorf("data: shard: vocabulary size %d out of range", vocab)
	}
	if len(tokens) > MaxShardTokens {
		return nil, fmt.Errorf("data: shard: %d tokens, more than the %d a shard holds", len(tokens), MaxShardTokens)
	}
	for i, t := range tokens {
		if t < 0 || int(t) >= vocab {
			return nil, fmt.Errorf("data: shard: token %d at %d is outside the vocabulary [0, %d)", t, i, vocab)
		}
	}
	s := &Shard{vocab: vocab}
	if vocab <= 1<<16 {
		s.u16 = make([]uint16, len(tokens))
		for i, t := range tokens {
			s.u16[i] = uint16(t)
		}
	} else {
		s.u32 = make([]uint32, len(tokens))
		for i, t := range tokens {
			s.u32[i] = uint32(t)
		}
	}
	return s, nil
}

// Len returns the number of tokens.
func (s *Shard) Len() int { return len(s.u16) + len(s.u32) }

// Vocab returns the vocabulary size the tokens are in.
func (s *Shard) Vocab() int { return s.vocab }

// Width returns the bytes per token: 2 or 4.
func (s *Shard) Width() int {
	if s.vocab <= 1<<16 {
		return 2
	}
	return 4
}

// At returns token i. It panics (index out of range) if i is not in
// [0, Len()).
func (s *Shard) At(i int) int32 {
	if s.Width() == 2 {
		return int32(s.u16[i])
	}
	return int32(s.u32[i])
}

// Read copies tokens [start, start+len(dst)) into dst. It panics (index out
// of range) if the range is not inside the shard.
func (s *Shard) Read(dst []int32, start int) {
	if s.Width() == 2 {
		for i, t := range s.u16[start : start+len(dst)] {
			dst[i] = int32(t)
		}
		return
	}
	for i, t := range s.u32[start : start+len(dst)] {
		dst[i] = int32(t)
	}
}

// Counts returns how often each token id occurs in [lo, hi), [Vocab()].
func (s *Shard) Counts(lo, hi int) []int {
	c := make([]int, s.vocab)
	for i := lo; i < hi; i++ {
		c[s.At(i)]++
	}
	return c
}

// WriteTo writes the shard's file form to w.
func (s *Shard) WriteTo(w io.Writer) (int64, error) {
	hdr := make([]byte, shardHeader)
	copy(hdr, shardMagic)
	binary.LittleEndian.PutUint32(hdr[8:], uint32(s.Width()))
	binary.LittleEndian.PutUint32(hdr[12:], uint32(s.vocab))
	binary.LittleEndian.PutUint64(hdr[16:], uint64(s.Len()))
	n, err := w.Write(hdr)
	total := int64(n)
	if err != nil {
		return total, err
	}
	var body []byte
	if s.Width() == 2 {
		body = make([]byte, 2*len(s.u16))
		for i, t := range s.u16 {
			binary.LittleEndian.PutUint16(body[2*i:], t)
		}
	} else {
		body = make([]byte, 4*len(s.u32))
		for i, t := range s.u32 {
			binary.LittleEndian.PutUint32(body[4*i:], t)
		}
	}
	n, err = w.Write(body)
	return total + int64(n), err
}

// ReadShard parses a shard's file form (as WriteTo writes it), validating
// the header against the data's length and every token against the
// vocabulary.
func ReadShard(b []byte) (*Shard, error) {
	if len(b) < shardHeader || string(b[:8]) != shardMagic {
		return nil, fmt.Errorf("data: shard: not a token shard (no %q header)", shardMagic)
	}
	width := binary.LittleEndian.Uint32(b[8:])
	vocab := binary.LittleEndian.Uint32(b[12:])
	n := binary.LittleEndian.Uint64(b[16:])
	want := uint32(2)
	if vocab > 1<<16 {
		want = 4
	}
	switch {
	case vocab == 0:
		return nil, fmt.Errorf("data: shard: vocabulary size 0")
	case width != want:
		return nil, fmt.Errorf("data: shard: %d bytes per token for a vocabulary of %d, want %d", width, vocab, want)
	case n > MaxShardTokens:
		return nil, fmt.Errorf("data: shard: header says %d tokens, more than the %d a shard holds", n, MaxShardTokens)
	case uint64(len(b)-shardHeader) != n*uint64(width):
		return nil, fmt.Errorf("data: shard: header says %d tokens of %d bytes, the file holds %d bytes after it", n, width, len(b)-shardHeader)
	}
	body := b[shardHeader:]
	s := &Shard{vocab: int(vocab)}
	if width == 2 {
		s.u16 = make([]uint16, n)
		for i := range s.u16 {
			s.u16[i] = binary.LittleEndian.Uint16(body[2*i:])
		}
	} else {
		s.u32 = make([]uint32, n)
		for i := range s.u32 {
			s.u32[i] = binary.LittleEndian.Uint32(body[4*i:])
		}
	}
	for i := range s.Len() {
		if t := s.At(i); int(t) >= s.vocab || t < 0 {
			return nil, fmt.Errorf("data: shard: token %d at %d is outside the vocabulary [0, %d)", t, i, s.vocab)
		}
	}
	return s, nil
}
