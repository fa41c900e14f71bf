package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/internal/testenv"
)

const parityDir = "../../../shared/testdata/parity"

func runCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), err
}

func needParity(t *testing.T) string {
	t.Helper()
	return testenv.ParityModel(t, "attn2_induction")
}

func TestUsage(t *testing.T) {
	out, _, err := runCLI(t, "help")
	if err != nil || !strings.Contains(out, "eval") || !strings.Contains(out, "inspect") {
		t.Errorf("usage = %q, %v", out, err)
	}
	if _, _, err := runCLI(t, "frobnicate"); err == nil {
		t.Error("unknown command accepted")
	}
	// Flags without a command are serve's: a bad one is serve's error.
	if _, _, err := runCLI(t, "--addr", "0.0.0.0:0"); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("workbench --addr 0.0.0.0:0: %v, want serve's loopback refusal", err)
	}
}

func TestEvalJSONMatchesReference(t *testing.T) {
	dir := needParity(t)
	out, _, err := runCLI(t, "eval", "--model", filepath.Join(dir, "model.safetensors"),
		"--config", filepath.Join(dir, "config.json"), "--tokens", filepath.Join(dir, "tokens.json"), "--json")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Logits [][][]float64 `json:"logits"`
		Loss   float64       `json:"loss"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	var want struct {
		Logits [][][]float64 `json:"logits"`
		Loss   float64       `json:"loss"`
	}
	b, _ := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if math.Abs(got.Loss-want.Loss) > 1e-4 {
		t.Errorf("loss %v, reference %v", got.Loss, want.Loss)
	}
	if len(got.Logits) != len(want.Logits) || len(got.Logits[0]) != len(want.Logits[0]) {
		t.Fatalf("logits shape differs")
	}
	for b := range want.Logits {
		for p := range want.Logits[b] {
			for v := range want.Logits[b][p] {
				if math.Abs(got.Logits[b][p][v]-want.Logits[b][p][v]) > 2e-4 {
					t.Fatalf("logit [%d][%d][%d] = %v, reference %v", b, p, v, got.Logits[b][p][v], want.Logits[b][p][v])
				}
			}
		}
	}
}

func TestInspectAndBadInput(t *testing.T) {
	c := wideConfig() // 4 heads, d_model 16, d_head 4, 64 tokens
	dir, _ := saveModel(t, c)
	out, _, err := runCLI(t, "inspect", filepath.Join(dir, "model.safetensors"))
	if err != nil || !strings.Contains(out, "blocks.0.attn.W_Q") || !strings.Contains(out, "[4 16 4]") {
		t.Errorf("inspect output %q, %v", out, err)
	}
	bad := filepath.Join(t.TempDir(), "bad.safetensors")
	os.WriteFile(bad, []byte("not a safetensors file at all"), 0o644)
	if _, _, err := runCLI(t, "inspect", bad); err == nil || strings.Contains(err.Error(), "\n") {
		t.Errorf("inspect of a malformed file: %v (want a one-line error)", err)
	}
	toks := filepath.Join(t.TempDir(), "toks.json")
	for _, tc := range []struct{ content, want string }{
		{`[[1, 2, 64]]`, "out of range"},
		{`[[1, 2], [3]]`, "equal length"},
		{`{"x": 1}`, "JSON array"},
	} {
		os.WriteFile(toks, []byte(tc.content), 0o644)
		_, _, err := runCLI(t, "eval", "--model", filepath.Join(dir, "model.safetensors"), "--tokens", toks)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("eval with tokens %s: error %v, want %q", tc.content, err, tc.want)
		}
	}
	if _, _, err := runCLI(t, "eval", "--tokens", toks); err == nil {
		t.Error("eval without --model accepted")
	}
}
