package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/tokenizer"
)

// TestTokenizerTrain: `tokenizer train --json` on a folder of texts writes
// a tokenizer.json of exactly --vocab tokens that `tokenize` then uses, and
// reports its compression, which matches the tokens `tokenize` counts.
func TestTokenizerTrain(t *testing.T) {
	corpus := t.TempDir()
	line := "To be, or not to be, that is the question: whether 'tis nobler in the mind to suffer.\n"
	if err := os.WriteFile(filepath.Join(corpus, "a.txt"), []byte(strings.Repeat(line, 20)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(corpus, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(corpus, "sub", "b.txt"), []byte("The slings and arrows of outrageous fortune.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(corpus, ".hidden"), []byte("\x00\x01 not read"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "tok")
	stdout, _, err := runCLI(t, "tokenizer", "train", "--text", corpus, "--vocab", "300", "--out", out, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		VocabSize     int     `json:"vocab_size"`
		Merges        int     `json:"merges"`
		Bytes         int     `json:"bytes"`
		Tokens        int     `json:"tokens"`
		BytesPerToken float64 `json:"bytes_per_token"`
		Seconds       float64 `json:"seconds"`
		Tokenizer     string  `json:"tokenizer"`
	}
	d := json.NewDecoder(strings.NewReader(stdout))
	d.DisallowUnknownFields()
	if err := d.Decode(&r); err != nil {
		t.Fatalf("%s: %v", stdout, err)
	}
	wantBytes := 20*len(line) + len("The slings and arrows of outrageous fortune.\n")
	if r.VocabSize != 300 || r.Merges != 44 || r.Bytes != wantBytes || r.Tokenizer != filepath.Join(out, "tokenizer.json") || r.Seconds <= 0 {
		t.Errorf("tokenizer train --json = %s (want 300 tokens, 44 merges, %d bytes)", stdout, wantBytes)
	}
	tok, err := tokenizer.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Repeat(line, 20) + "The slings and arrows of outrageous fortune.\n"
	if enc, _ := tok.Encode(joined, tokenizer.Options{BOS: tokenizer.BOSNever}); r.Tokens != len(enc.IDs) {
		t.Errorf("tokens %d, but the corpus encodes to %d", r.Tokens, len(enc.IDs))
	}
	if r.BytesPerToken != float64(r.Bytes)/float64(r.Tokens) || r.BytesPerToken < 2 {
		t.Errorf("bytes per token %v for %d bytes in %d tokens: want their ratio, and > 2 on a text repeated 20 times", r.BytesPerToken, r.Bytes, r.Tokens)
	}

	// the folder loads as --tokenizer, and encodes the text as counted
	tokOut, _, err := runCLI(t, "tokenize", "--tokenizer", out, "--text", line, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var enc struct {
		IDs    []int
		Pieces []string
	}
	if err := json.Unmarshal([]byte(tokOut), &enc); err != nil {
		t.Fatal(err)
	}
	if strings.Join(enc.Pieces, "") != line || len(enc.IDs) >= len(line)/2 || slices.Max(enc.IDs) >= 300 {
		t.Errorf("tokenize with the trained tokenizer: %d tokens %q for %d bytes", len(enc.IDs), enc.Pieces, len(line))
	}

	// the human form, and an existing tokenizer.json kept unless --force
	if _, _, err := runCLI(t, "tokenizer", "train", "--text", corpus, "--vocab", "300", "--out", out); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("an existing tokenizer.json was replaced without --force: %v", err)
	}
	human, errOut, err := runCLI(t, "tokenizer", "train", "--text", filepath.Join(corpus, "a.txt"), "--vocab", "280", "--out", out, "--force")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(human, "280 tokens (24 merges)") || !strings.Contains(human, "bytes per token") || !strings.Contains(errOut, "24/24 merges") {
		t.Errorf("human output:\n%s\nstderr:\n%s", human, errOut)
	}
}

// TestTokenizerTrainBadInput: every wrong input is an error naming it.
func TestTokenizerTrainBadInput(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "t.txt")
	if err := os.WriteFile(text, []byte("abc abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"tokenizer"}, "name a subcommand"},
		{[]string{"tokenizer", "fit"}, `unknown subcommand "fit"`},
		{[]string{"tokenizer", "train", "--vocab", "300", "--out", out}, "--text is required"},
		{[]string{"tokenizer", "train", "--text", text, "--out", out}, "--vocab is required"},
		{[]string{"tokenizer", "train", "--text", text, "--vocab", "300"}, "--out is required"},
		{[]string{"tokenizer", "train", "--text", text, "--vocab", "100", "--out", out}, "--vocab 100 out of range [256,"},
		{[]string{"tokenizer", "train", "--text", text, "--vocab", "99999999999", "--out", out}, "out of range"},
		{[]string{"tokenizer", "train", "--text", text, "--vocab", "300", "--out", out, "--merges", "3"}, "unknown flag --merges"},
		{[]string{"tokenizer", "train", "--text", text, "--vocab", "300", "--out", out, "extra"}, `unexpected argument "extra"`},
		{[]string{"tokenizer", "train", "--text", filepath.Join(dir, "missing"), "--vocab", "300", "--out", out}, "no such file"},
		{[]string{"tokenizer", "train", "--text", empty, "--vocab", "300", "--out", out}, "holds no files"},
		{[]string{"tokenizer", "train", "--text", text, "--vocab", "300", "--out", out}, "a vocabulary of at most 259 tokens"},
	} {
		_, _, err := runCLI(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "tokenizer.json")); err == nil {
		t.Error("a failed training wrote tokenizer.json")
	}
}

// TestTokenizerTrainInterrupted: a cancelled context (Ctrl-C) stops the
// training with its error and writes nothing.
func TestTokenizerTrainInterrupted(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "t.txt")
	if err := os.WriteFile(text, []byte(strings.Repeat("the quick brown fox jumps over the lazy dog. ", 200)), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := filepath.Join(dir, "out")
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{"tokenizer", "train", "--text", text, "--vocab", "300", "--out", out}, &stdout, &stderr)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("interrupted training: %v, want context.Canceled", err)
	}
	if _, err := os.Stat(filepath.Join(out, "tokenizer.json")); err == nil {
		t.Error("an interrupted training wrote tokenizer.json")
	}
}
