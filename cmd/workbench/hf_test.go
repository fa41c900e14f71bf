package main

import (
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/internal/testenv"
	"github.com/mechinterp/workbench/transformer/transformertest"
)

// hfLogitTol: float32 against TransformerLens's float64 forward
// (../shared/testdata/hf/README.md: about 1e-4 expected).
const hfLogitTol = 1e-4

// TestEvalHuggingFaceFolder: `workbench eval --model DIR` detects a Hugging
// Face folder and matches TransformerLens's logits and loss on it.
func TestEvalHuggingFaceFolder(t *testing.T) {
	dir := filepath.Join(testenv.SharedDir(t, "hf"), "gpt2_tiny")
	out, _, err := runCLI(t, "eval", "--model", dir, "--tokens", filepath.Join(dir, "tokens.json"), "--json")
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		Logits [][][]float64 `json:"logits"`
		Loss   float64       `json:"loss"`
	}
	var got, want result
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	transformertest.ReadJSON(t, filepath.Join(dir, "expected.json"), &want)
	if math.Abs(got.Loss-want.Loss) > 1e-5 {
		t.Errorf("loss %v, TransformerLens %v", got.Loss, want.Loss)
	}
	if len(got.Logits) != len(want.Logits) {
		t.Fatalf("%d sequences of logits, want %d", len(got.Logits), len(want.Logits))
	}
	maxErr := 0.0
	for b := range want.Logits {
		if len(got.Logits[b]) != len(want.Logits[b]) {
			t.Fatalf("sequence %d: %d positions, want %d", b, len(got.Logits[b]), len(want.Logits[b]))
		}
		for p := range want.Logits[b] {
			if len(got.Logits[b][p]) != len(want.Logits[b][p]) {
				t.Fatalf("[%d][%d]: %d logits, want %d", b, p, len(got.Logits[b][p]), len(want.Logits[b][p]))
			}
			for v, w := range want.Logits[b][p] {
				maxErr = math.Max(maxErr, math.Abs(got.Logits[b][p][v]-w))
			}
		}
	}
	t.Logf("max |logit − TransformerLens| through the CLI = %.3g", maxErr)
	if maxErr > hfLogitTol {
		t.Errorf("logits differ from TransformerLens by %.3g > %g", maxErr, hfLogitTol)
	}

	// --config belongs to TransformerLens-named checkpoints, not to a folder
	// that carries its own config.json.
	_, _, err = runCLI(t, "eval", "--model", dir, "--config", filepath.Join(dir, "config.json"), "--tokens", filepath.Join(dir, "tokens.json"))
	if err == nil || !strings.Contains(err.Error(), "--config") {
		t.Errorf("--config with a Hugging Face folder: %v, want an error naming --config", err)
	}
}

// TestAnalysesRunOnHuggingFaceFolder: the commands that analyse a model
// take a Hugging Face folder as --model.
func TestAnalysesRunOnHuggingFaceFolder(t *testing.T) {
	dir := t.TempDir()
	writeTextModel(t, dir, 7) // a random GPT-2 folder: config.json + model.safetensors
	toks := seqFile(t, []int{5, 80, 120, 9, 200, 31}, []int{7, 7, 64, 250, 3, 100})
	runJSONCommands(t, [][]string{
		{"analyze", "--model", dir, "--tokens", toks, "--json"},
		{"lens", "--model", dir, "--tokens", toks, "--json"},
		{"patch", "--model", dir, "--clean", toks, "--corrupted", toks, "--what", "attn_out", "--metric", "prob", "--answer", "1", "--json"},
	})
}
