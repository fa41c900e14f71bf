package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/tokenizer"
	"github.com/mechinterp/workbench/transformer"
)

// lmCorpus writes a small text file for train lm tests.
func lmCorpus(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "text.txt")
	text := strings.Repeat("ROMEO: what light through yonder window breaks?\nJULIET: ay me.\n", 80)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

var lmTiny = []string{"--d-model", "16", "--n-heads", "2", "--d-head", "8", "--context", "16", "--batch", "4", "--eval-every", "5", "--eval-windows", "4", "--warmup", "0"}

func TestTrainLMJSON(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	args := append([]string{"train", "lm", "--text", lmCorpus(t), "--out", out, "--steps", "10", "--json"}, lmTiny...)
	stdout, stderr, err := runCLI(t, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"checkpoint", "final_eval_loss", "icl_score", "induction_score", "phase_change_step", "prefix_matching_score",
		"prev_token_score", "tokens_per_second", "tokens_seen", "wall_seconds"}
	if !slices.Equal(keys, want) {
		t.Errorf("--json keys %v, want %v", keys, want)
	}
	if got["tokens_seen"] != float64(10*4*16) {
		t.Errorf("tokens_seen %v, want %d", got["tokens_seen"], 10*4*16)
	}
	b, err := os.ReadFile(filepath.Join(out, "train.json"))
	if err != nil || !strings.Contains(string(b), `"task": "lm"`) {
		t.Errorf("train.json: %v %s", err, b)
	}
}

// TestTrainLMTrainTokenizer: --train-tokenizer N learns a BPE of exactly N
// tokens on the corpus's training part, saves it as DIR/tokenizer.json, and
// the model's vocabulary is that tokenizer's: the run's own tokens decode
// back to the corpus's text.
func TestTrainLMTrainTokenizer(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	text := lmCorpus(t)
	args := append([]string{"train", "lm", "--text", text, "--out", out, "--steps", "5", "--train-tokenizer", "300", "--json"}, lmTiny...)
	if _, stderr, err := runCLI(t, args...); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	tok, err := tokenizer.Load(filepath.Join(out, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != 300 {
		t.Errorf("vocabulary %d, want 300", tok.VocabSize())
	}
	m, err := transformer.Load(filepath.Join(out, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Cfg.DVocab != 300 {
		t.Errorf("the model's d_vocab is %d, want the tokenizer's 300", m.Cfg.DVocab)
	}
	corpus, _ := os.ReadFile(text)
	enc, err := tok.Encode(string(corpus[:200]), tokenizer.Options{BOS: tokenizer.BOSNever})
	if err != nil {
		t.Fatal(err)
	}
	if len(enc.IDs) >= 200/2 {
		t.Errorf("%d tokens for 200 bytes of a repetitive text: the merges were not learned", len(enc.IDs))
	}
}

func TestTrainLMRefusals(t *testing.T) {
	text := lmCorpus(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--out", t.TempDir(), "--colour", "red"}, "colour"},
		{[]string{"--text", text, "--out", t.TempDir(), "--train-tokenizer", "300", "--tokenizer", text}, "not both"},
		{[]string{"--text", text, "--out", t.TempDir(), "--train-tokenizer", "100"}, "--train-tokenizer"},
		{[]string{"--text", text, "--out", t.TempDir(), "--train-tokenizer", "300", "--resume"}, "resumed run keeps"},
		{[]string{"--out", t.TempDir()}, "--text is required"},
		{[]string{"--text", text, "--out", t.TempDir(), "--schedule", "linear"}, "schedule"},
		{[]string{"--text", text, "--out", t.TempDir(), "--repeat-frac", "2"}, "repeat fraction"},
		{[]string{"--text", text, "--out", t.TempDir(), "--tokenizer", filepath.Join(t.TempDir(), "none.json")}, "none.json"},
	}
	for _, tc := range tests {
		_, _, err := runCLI(t, append([]string{"train", "lm"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
}

// An interrupted run exits with an error that says how to resume, and
// resuming finishes it.
func TestTrainLMInterruptedSaysHowToResume(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	args := append([]string{"train", "lm", "--text", lmCorpus(t), "--out", out, "--steps", "10", "--tokenizer", "bytes"}, lmTiny...)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var so, se strings.Builder
	err := run(ctx, args, &so, &se)
	if err == nil || !strings.Contains(err.Error(), "--out "+out+" --resume") || exitCode(err, io.Discard) != 130 {
		t.Fatalf("interrupted run: %v (exit %d; want the resume command and exit 130)", err, exitCode(err, io.Discard))
	}
	if _, _, err := runCLI(t, append(args, "--resume")...); err != nil {
		t.Fatalf("resume: %v", err)
	}
}

// TestTrainLMDefaultTokenizer: without tokenizer flags train lm learns a
// BPE of at most lm.DefaultTrainTokenizer tokens on the corpus (fewer on a
// text too small for them), and a resume without flags keeps it.
func TestTrainLMDefaultTokenizer(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	text := lmCorpus(t)
	args := append([]string{"train", "lm", "--text", text, "--out", out, "--steps", "5"}, lmTiny...)
	if _, stderr, err := runCLI(t, args...); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	tok, err := tokenizer.Load(filepath.Join(out, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	if n := tok.VocabSize(); n <= 256 || n > 1024 {
		t.Errorf("default tokenizer: %d tokens, want 257–1024", n)
	}
	b, _ := os.ReadFile(filepath.Join(out, "train.json"))
	if !strings.Contains(string(b), "tokenizer.json") {
		t.Errorf("train.json does not name the learned tokenizer: %s", b)
	}
	resume := append([]string{"train", "lm", "--text", text, "--out", out, "--steps", "10", "--resume"}, lmTiny...)
	if _, stderr, err := runCLI(t, resume...); err != nil {
		t.Fatalf("resume without tokenizer flags: %v\n%s", err, stderr)
	}
}
