package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
)

// tokenReader streams a JSON array of token sequences ([[1, 2, 3], ...])
// one token at a time, so that memory is bounded by what the caller keeps,
// whatever the file's size. Every sequence must have the first one's
// length (unless ragged is set), at most maxLen tokens.
type tokenReader struct {
	path   string
	f      *os.File
	dec    *json.Decoder
	maxLen int
	ragged bool // sequences may differ in length
	n      int  // sequences read
	pos    int  // the first sequence's length (0 before it)
	done   bool
}

// openTokens opens path and reads the opening bracket.
func openTokens(path string, maxLen int) (*tokenReader, error) {
	if path == "" {
		return nil, fmt.Errorf("--tokens is required")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r := &tokenReader{path: path, f: f, dec: json.NewDecoder(bufio.NewReaderSize(f, 1<<16)), maxLen: maxLen}
	r.dec.UseNumber()
	if err := r.delim('['); err != nil {
		f.Close()
		return nil, err
	}
	return r, nil
}

func (r *tokenReader) Close() error { return r.f.Close() }

// errf returns an error naming the file and the expected format.
func (r *tokenReader) errf(format string, args ...any) error {
	want := "equal-length token sequences like [[1, 2, 3]]"
	if r.ragged {
		want = "token sequences like [[1, 2, 3], [4, 5]]"
	}
	return fmt.Errorf("%s: %s (want a JSON array of %s)", r.path, fmt.Sprintf(format, args...), want)
}

func (r *tokenReader) delim(want json.Delim) error {
	tok, err := r.dec.Token()
	if err != nil {
		return r.errf("%v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return r.errf("found %v where %q belongs", tok, string(want))
	}
	return nil
}

// next reads the next sequence into dst[:0] and returns it, or io.EOF
// after the last one (with nothing but space after the closing bracket).
func (r *tokenReader) next(dst []int) ([]int, error) {
	if r.done {
		return nil, io.EOF
	}
	tok, err := r.dec.Token()
	if err != nil {
		return nil, r.errf("sequence %d: %v", r.n, err)
	}
	if d, ok := tok.(json.Delim); ok && d == ']' {
		r.done = true
		if _, err := r.dec.Token(); err != io.EOF {
			return nil, r.errf("data after the closing bracket")
		}
		if r.n == 0 {
			return nil, r.errf("no token sequences")
		}
		return nil, io.EOF
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, r.errf("sequence %d: found %v where '[' belongs", r.n, tok)
	}
	seq := dst[:0]
	for {
		tok, err := r.dec.Token()
		if err != nil {
			return nil, r.errf("sequence %d: %v", r.n, err)
		}
		if d, ok := tok.(json.Delim); ok && d == ']' {
			break
		}
		num, ok := tok.(json.Number)
		if !ok {
			return nil, r.errf("sequence %d, position %d: %v is not a token id", r.n, len(seq), tok)
		}
		id, err := strconv.ParseInt(string(num), 10, 32)
		if err != nil || id < 0 || id > math.MaxInt32 {
			return nil, r.errf("sequence %d, position %d: %s is not a token id", r.n, len(seq), num)
		}
		if len(seq) == r.maxLen {
			return nil, r.errf("sequence %d is longer than the model's n_ctx %d", r.n, r.maxLen)
		}
		seq = append(seq, int(id))
	}
	if len(seq) == 0 {
		return nil, r.errf("sequence %d is empty", r.n)
	}
	if r.n == 0 {
		r.pos = len(seq)
	} else if len(seq) != r.pos && !r.ragged {
		return nil, r.errf("sequence %d has %d tokens, sequence 0 has %d (sequences must have equal length)", r.n, len(seq), r.pos)
	}
	r.n++
	return seq, nil
}

// batch reads up to n sequences, reusing dst's rows; it returns an empty
// batch and io.EOF when none is left.
func (r *tokenReader) batch(dst [][]int, n int) ([][]int, error) {
	dst = dst[:0]
	for len(dst) < n {
		var row []int
		if len(dst) < cap(dst) {
			row = dst[:len(dst)+1][len(dst)]
		}
		seq, err := r.next(row)
		if errors.Is(err, io.EOF) {
			if len(dst) == 0 {
				return dst, io.EOF
			}
			return dst, nil
		}
		if err != nil {
			return nil, err
		}
		dst = append(dst, seq)
	}
	return dst, nil
}

// readTokens reads a whole token file (commands whose analysis needs every
// sequence at once), refusing more than maxTokens tokens in all.
func readTokens(path string, maxLen, maxTokens int) ([][]int, error) {
	r, err := openTokens(path, maxLen)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.all(maxTokens)
}

// all reads every remaining sequence, refusing more than maxTokens tokens
// in all.
func (r *tokenReader) all(maxTokens int) ([][]int, error) {
	var all [][]int
	total := 0
	for {
		seq, err := r.next(nil)
		if errors.Is(err, io.EOF) {
			return all, nil
		}
		if err != nil {
			return nil, err
		}
		if total += len(seq); total > maxTokens {
			return nil, r.errf("more than %d tokens in all, more than this command holds at once", maxTokens)
		}
		all = append(all, seq)
	}
}
