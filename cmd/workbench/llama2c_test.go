package main

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/internal/testenv"
	"github.com/mechinterp/workbench/transformer/transformertest"
)

// llama2cLogitTol is the bar against llama2.c's run.c (float32).
const llama2cLogitTol = 1e-4

// TestEvalLlama2c: `workbench eval --model stories260K.bin --tokens F
// --json` detects a llama2.c checkpoint and prints run.c's logits; --config
// is refused for it.
func TestEvalLlama2c(t *testing.T) {
	dir := testenv.SharedDir(t, "llama2c")
	bin := filepath.Join(dir, "stories260K.bin")
	var seqs [][]int
	transformertest.ReadJSON(t, filepath.Join(dir, "tokens.json"), &seqs)
	var want struct {
		Logits [][][]float64 `json:"logits"`
	}
	transformertest.ReadJSON(t, filepath.Join(dir, "expected.json"), &want)
	for s, seq := range seqs { // one file per sequence: their lengths differ
		toks := tokensFile(t, [][]int{seq})
		out, _, err := runCLI(t, "eval", "--model", bin, "--tokens", toks, "--json")
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Logits [][][]float64 `json:"logits"`
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		if len(got.Logits) != 1 || len(got.Logits[0]) != len(want.Logits[s]) {
			t.Fatalf("sequence %d: logits of shape %d×%d, want 1×%d", s, len(got.Logits), len(got.Logits[0]), len(want.Logits[s]))
		}
		worst := 0.0
		for p, row := range want.Logits[s] {
			if len(got.Logits[0][p]) != len(row) {
				t.Fatalf("sequence %d position %d: %d logits, want %d", s, p, len(got.Logits[0][p]), len(row))
			}
			for v, w := range row {
				worst = math.Max(worst, math.Abs(got.Logits[0][p][v]-w))
			}
		}
		t.Logf("sequence %d: max |logit − run.c| through the CLI = %.3g", s, worst)
		if worst > llama2cLogitTol {
			t.Errorf("sequence %d: logits differ from run.c by %.3g > %g", s, worst, llama2cLogitTol)
		}
	}
	_, _, err := runCLI(t, "eval", "--model", bin, "--config", filepath.Join(dir, "tokens.json"), "--tokens", tokensFile(t, seqs[:1]))
	if err == nil || !strings.Contains(err.Error(), "--config") {
		t.Errorf("--config with a llama2.c checkpoint: %v, want an error naming --config", err)
	}
}

// TestAnalysesRunOnLlama2c: the commands that analyse a model take a
// llama2.c checkpoint as --model (grouped-query attention, rotary, SwiGLU),
// attribution patching included.
func TestAnalysesRunOnLlama2c(t *testing.T) {
	bin := writeLlama2c(t, 5)
	clean := []int{1, 9, 4, 17, 30, 2, 9, 4, 17, 30}
	corrupted := append([]int(nil), clean...)
	corrupted[3] = (corrupted[3] + 1) % 32
	cleanF, corrF := tokensFile(t, [][]int{clean}), tokensFile(t, [][]int{corrupted})
	runJSONCommands(t, [][]string{
		{"analyze", "--model", bin, "--tokens", cleanF, "--json"},
		{"lens", "--model", bin, "--tokens", cleanF, "--json"},
		{"patch", "--model", bin, "--clean", cleanF, "--corrupted", corrF, "--what", "attn_out", "--metric", "prob", "--answer", "1", "--json"},
		// k has n_key_value_heads heads; attribution needs the backward pass.
		{"patch", "--model", bin, "--clean", cleanF, "--corrupted", corrF, "--what", "k", "--attribution", "--metric", "prob", "--answer", "1", "--json"},
	})
}

// runJSONCommands runs each command line and checks that it prints a JSON
// result.
func runJSONCommands(t *testing.T, cmds [][]string) {
	t.Helper()
	for _, args := range cmds {
		out, _, err := runCLI(t, args...)
		if err != nil {
			t.Errorf("%s: %v", strings.Join(args, " "), err)
			continue
		}
		if !json.Valid([]byte(out)) || len(out) < 10 {
			t.Errorf("%s: output %.200q is not a JSON result", strings.Join(args, " "), out)
		}
	}
}

// tokensFile writes seqs as a tokens JSON file in a temporary folder.
func tokensFile(t *testing.T, seqs [][]int) string {
	t.Helper()
	b, err := json.Marshal(seqs)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "tokens.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestGenerateLlama2c: `workbench generate --model stories260K.bin --tokens
// F --temperature 0 --json` continues each sequence as llama2.c's run.c
// does, over the steps its greedy choice is stable (greedy_stable_prefix);
// both sequences go in one batch of different lengths.
func TestGenerateLlama2c(t *testing.T) {
	dir := testenv.SharedDir(t, "llama2c")
	var seqs [][]int
	transformertest.ReadJSON(t, filepath.Join(dir, "tokens.json"), &seqs)
	var want struct {
		Greedy [][]int `json:"greedy"`
		Prefix []int   `json:"greedy_stable_prefix"`
	}
	transformertest.ReadJSON(t, filepath.Join(dir, "expected.json"), &want)
	n := 0
	for _, p := range want.Prefix {
		n = max(n, p)
	}
	out, _, err := runCLI(t, "generate", "--model", filepath.Join(dir, "stories260K.bin"), "--tokens", tokensFile(t, seqs),
		"--max-new", strconv.Itoa(n), "--temperature", "0", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Tokens [][]int `json:"tokens"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Tokens) != len(seqs) {
		t.Fatalf("%d continuations for %d prompts", len(got.Tokens), len(seqs))
	}
	for s := range seqs {
		k := want.Prefix[s]
		if len(got.Tokens[s]) < k || !slices.Equal(got.Tokens[s][:k], want.Greedy[s][:k]) {
			t.Errorf("sequence %d: generated %v, run.c %v (stable for %d tokens)", s, got.Tokens[s], want.Greedy[s][:k], k)
		}
	}
}

// writeLlama2c writes a random llama2.c checkpoint in the legacy layout
// (seven int32 header fields, then every float32 array in run.c's order)
// with grouped-query attention (2 heads sharing 1 key-value head), a
// SwiGLU MLP, RMSNorm and rotary tables, 32 tokens and 12 positions, and
// returns its path.
func writeLlama2c(t *testing.T, seed uint64) string {
	t.Helper()
	const dim, hidden, layers, heads, kvHeads, vocab, seqLen = 16, 24, 2, 2, 1, 32, 12
	hs := dim / heads
	kv := kvHeads * hs
	rng := rand.New(rand.NewPCG(seed, seed))
	var b []byte
	for _, v := range []int32{dim, hidden, layers, heads, kvHeads, vocab, seqLen} { // vocab > 0: tied classifier
		b = binary.LittleEndian.AppendUint32(b, uint32(v))
	}
	put := func(n int, mean float64) {
		for range n {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(mean+0.4*rng.NormFloat64())))
		}
	}
	put(vocab*dim, 0)                                               // token_embedding
	put(layers*dim, 1)                                              // rms_att
	put(layers*dim*dim, 0)                                          // wq
	put(layers*kv*dim, 0)                                           // wk
	put(layers*kv*dim, 0)                                           // wv
	put(layers*dim*dim, 0)                                          // wo
	put(layers*dim, 1)                                              // rms_ffn
	put(layers*hidden*dim, 0)                                       // w1
	put(layers*dim*hidden, 0)                                       // w2
	put(layers*hidden*dim, 0)                                       // w3
	put(dim, 1)                                                     // rms_final
	for _, f := range []func(float64) float64{math.Cos, math.Sin} { // freq_cis_real, freq_cis_imag
		for p := range seqLen {
			for i := range hs / 2 {
				b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(f(float64(p)*math.Pow(10000, -2*float64(i)/float64(hs))))))
			}
		}
	}
	path := filepath.Join(t.TempDir(), "model.bin")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
