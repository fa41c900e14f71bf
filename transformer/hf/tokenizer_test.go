package hf

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/tokenizer"
)

// writeByteTokenizer writes a GPT-2-style tokenizer with no merges: one
// token per byte (ids 0..255, GPT-2's printable alphabet) and
// <|endoftext|> as 256.
func writeByteTokenizer(t *testing.T, dir string) {
	t.Helper()
	vocab := map[string]int{"<|endoftext|>": 256}
	n := rune(256)
	for b := range 256 {
		r := rune(b)
		if !(b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE) {
			r, n = n, n+1
		}
		vocab[string(r)] = b
	}
	js, err := json.Marshal(vocab)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "vocab.json"), js, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "merges.txt"), []byte("#version: 0.2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLoadTokenizer: a model folder's tokenizer loads for a model with at
// least as many rows as it has tokens, and is refused, naming both sizes,
// for a smaller one.
func TestLoadTokenizer(t *testing.T) {
	dir := t.TempDir()
	writeByteTokenizer(t, dir)
	cfg := gpt2TestConfig(true)
	for _, v := range []int{257, 300} {
		cfg.DVocab = v
		tok, err := LoadTokenizer(dir, cfg)
		if err != nil {
			t.Fatalf("d_vocab %d: %v", v, err)
		}
		enc, err := tok.Encode("hi", tokenizer.Options{BOS: tokenizer.BOSAlways})
		if err != nil || len(enc.IDs) != 3 || enc.IDs[0] != 256 || enc.IDs[1] != 'h' || enc.IDs[2] != 'i' {
			t.Errorf("d_vocab %d: encode %v, %v", v, enc.IDs, err)
		}
	}
	cfg.DVocab = 256
	if _, err := LoadTokenizer(dir, cfg); err == nil || !strings.Contains(err.Error(), "257 tokens, more than the model's d_vocab 256") {
		t.Errorf("a tokenizer larger than the model: %v", err)
	}
	if _, err := LoadTokenizer(t.TempDir(), cfg); err == nil {
		t.Error("a folder without tokenizer files loaded")
	}
}
