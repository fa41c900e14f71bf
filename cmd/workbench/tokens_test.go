package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestTokenReader reads token files one token at a time: good files in
// batches, and every malformed one refused with its reason, a sequence
// longer than n_ctx as soon as it passes n_ctx.
func TestTokenReader(t *testing.T) {
	dir := t.TempDir()
	write := func(content string) string {
		p := filepath.Join(dir, "t.json")
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	r, err := openTokens(write(" [[1, 2], [3, 4],\n[5, 6]] \n"), 4)
	if err != nil {
		t.Fatal(err)
	}
	var got [][][]int
	var b [][]int
	for {
		if b, err = r.batch(b, 2); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		var cp [][]int
		for _, s := range b {
			cp = append(cp, append([]int(nil), s...))
		}
		got = append(got, cp)
	}
	r.Close()
	if want := [][][]int{{{1, 2}, {3, 4}}, {{5, 6}}}; !reflect.DeepEqual(got, want) {
		t.Errorf("batches %v, want %v", got, want)
	}
	// 100,000 tokens in one sequence, n_ctx 8: refused at the ninth.
	long := "[[" + strings.Repeat("1, ", 100000) + "1]]"
	for _, tc := range []struct{ content, want string }{
		{``, "EOF"},
		{`[]`, "no token sequences"},
		{`{"x": 1}`, "JSON array"},
		{`[[1, 2], [3]]`, "equal length"},
		{`[[1, 2.5]]`, "2.5 is not a token id"},
		{`[[1, -2]]`, "-2 is not a token id"},
		{`[[1, "a"]]`, "is not a token id"},
		{`[[]]`, "sequence 0 is empty"},
		{`[[1]] [[2]]`, "data after the closing bracket"},
		{`[[1, 2]`, "sequence 1"},
		{long, "longer than the model's n_ctx 8"},
	} {
		_, err := readTokens(write(tc.content), 8, 1000)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("tokens %.40q: error %v, want one containing %q", tc.content, err, tc.want)
		}
	}
	if _, err := readTokens(write(`[[1, 2], [3, 4], [5, 6]]`), 8, 5); err == nil || !strings.Contains(err.Error(), "more than 5 tokens") {
		t.Errorf("6 tokens with a limit of 5: %v", err)
	}
}
