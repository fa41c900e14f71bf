package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/internal/testenv"
)

// TestTokenizeJSON: --json prints exactly ids, pieces and byte spans; the
// ids are tiktoken's for GPT-2 (cases.json's first case), special text is
// plain without --special, and the BOS policy used is reported.
func TestTokenizeJSON(t *testing.T) {
	dir := testenv.SharedDir(t, "tokenizers")
	gpt2 := filepath.Join(dir, "gpt2")
	out, errOut, err := runCLI(t, "tokenize", "--tokenizer", gpt2, "--text", "Hello, world!", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%q: %v", out, err)
	}
	var ids []int
	var pieces []string
	var spans [][2]int
	for k, v := range map[string]any{"ids": &ids, "pieces": &pieces, "spans": &spans} {
		if err := json.Unmarshal(got[k], v); err != nil {
			t.Fatalf("%s: %v in %s", k, err, out)
		}
	}
	if len(got) != 3 || !slices.Equal(ids, []int{15496, 11, 995, 0}) ||
		!slices.Equal(pieces, []string{"Hello", ",", " world", "!"}) ||
		!slices.Equal(spans, [][2]int{{0, 5}, {5, 6}, {6, 12}, {12, 13}}) {
		t.Errorf("tokenize --json = %s", out)
	}
	if !strings.Contains(errOut, "bos: never") {
		t.Errorf("stderr %q does not name the BOS policy", errOut)
	}

	text := filepath.Join(t.TempDir(), "t.txt")
	if err := os.WriteFile(text, []byte("a<|endoftext|>"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want []int
	}{
		{nil, []int{64, 27, 91, 437, 1659, 5239, 91, 29}},
		{[]string{"--special"}, []int{64, 50256}},
		{[]string{"--special", "--bos", "always"}, []int{50256, 64, 50256}},
	} {
		args := append([]string{"tokenize", "--model", filepath.Join(gpt2, "vocab.json"), "--text-file", text, "--json"}, tc.args...)
		out, _, err := runCLI(t, args...)
		if err != nil {
			t.Fatal(err)
		}
		var r struct{ IDs []int }
		if err := json.Unmarshal([]byte(out), &r); err != nil || !slices.Equal(r.IDs, tc.want) {
			t.Errorf("%v: ids %v (%v), want %v", tc.args, r.IDs, err, tc.want)
		}
	}
}

// TestTokenizeText: the human form shows whitespace and the BOS policy.
func TestTokenizeText(t *testing.T) {
	qwen := filepath.Join(testenv.SharedDir(t, "tokenizers"), "qwen3", "tokenizer.json")
	out, _, err := runCLI(t, "tokenize", "--tokenizer", qwen, "--text", "a b\n", "--bos", "auto")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"bos: auto (none prepended)", "␣b", `\n`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestTokenizeFlags: missing or conflicting inputs and a bad policy are
// refused by name.
func TestTokenizeFlags(t *testing.T) {
	gpt2 := t.TempDir()
	writeGPT2Tokenizer(t, gpt2) // vocab.json + merges.txt, as GPT-2's folder
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--text", "x"}, "--model and --tokenizer"},
		{[]string{"--tokenizer", gpt2}, "--text and --text-file"},
		{[]string{"--tokenizer", gpt2, "--text", "x", "--text-file", "y"}, "--text and --text-file"},
		{[]string{"--tokenizer", gpt2, "--text", "x", "--bos", "sometimes"}, "sometimes"},
		{[]string{"--tokenizer", gpt2, "--text", "x", "--frob"}, "frob"},
		{[]string{"--tokenizer", t.TempDir(), "--text", "x"}, "vocab.json"},
	} {
		_, errOut, err := runCLI(t, append([]string{"tokenize"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error()+errOut, tc.want) {
			t.Errorf("%v: err %v, want one naming %q", tc.args, err, tc.want)
		}
	}
}
