package main

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/transformer"
)

// Child processes: a test that needs a separate process (its peak memory,
// a second writer) re-runs this test binary with the CLI arguments as JSON
// in cliArgsEnv; TestMain then runs them and exits with run's status,
// writing the process's peak resident set (VmHWM, kB) to the file named
// by cliPeakEnv.
const (
	cliArgsEnv = "WORKBENCH_TEST_CLI_ARGS"
	cliPeakEnv = "WORKBENCH_TEST_CLI_PEAK"
)

func TestMain(m *testing.M) {
	if js := os.Getenv(cliArgsEnv); js != "" {
		os.Exit(cliChild(js))
	}
	if os.Getenv(cliAsWorkbenchEnv) == "1" {
		os.Exit(cliChild(argvJSON(os.Args[1:])))
	}
	os.Exit(m.Run())
}

func cliChild(js string) int {
	var args []string
	if err := json.Unmarshal([]byte(js), &args); err != nil {
		os.Stderr.WriteString("bad " + cliArgsEnv + ": " + err.Error() + "\n")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, args, os.Stdout, os.Stderr)
	stop()
	if path := os.Getenv(cliPeakEnv); path != "" {
		status, _ := os.ReadFile("/proc/self/status")
		for _, line := range strings.Split(string(status), "\n") {
			if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				os.WriteFile(path, []byte(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB"))), 0o644)
			}
		}
	}
	if err != nil {
		os.Stderr.WriteString("workbench: " + err.Error() + "\n")
		return 1
	}
	return 0
}

// cliCommand returns a command running the CLI with args in a child
// process.
func cliCommand(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	js, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), cliArgsEnv+"="+string(js))
	return cmd
}

// peakRSS runs the CLI in a child process, its output discarded, and
// returns its peak resident set in bytes.
func peakRSS(t *testing.T, args ...string) float64 {
	t.Helper()
	cmd := cliCommand(t, args...)
	peak := filepath.Join(t.TempDir(), "peak")
	cmd.Env = append(cmd.Env, cliPeakEnv+"="+peak)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("workbench %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	b, err := os.ReadFile(peak)
	if err != nil {
		t.Fatalf("no peak memory reported (is /proc mounted?): %v", err)
	}
	kb, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		t.Fatal(err)
	}
	return kb * 1024
}

// saveModel builds a model of config c with seeded random weights and
// saves it in a temporary run folder, which it returns.
func saveModel(t *testing.T, c transformer.Config) (string, *transformer.Model) {
	t.Helper()
	m, err := transformer.New(c)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := m.Save(filepath.Join(dir, transformer.ModelFile), nil); err != nil {
		t.Fatal(err)
	}
	return dir, m
}

// writeTokens writes n random sequences of pos tokens below vocab.
func writeTokens(t *testing.T, seed uint64, n, pos, vocab int) (string, [][]int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed))
	toks := make([][]int, n)
	for i := range toks {
		toks[i] = make([]int, pos)
		for p := range toks[i] {
			toks[i][p] = rng.IntN(vocab)
		}
	}
	b, _ := json.Marshal(toks)
	path := filepath.Join(t.TempDir(), "tokens.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, toks
}

// smallConfig is a model with every part the batched commands touch:
// LayerNorm, MLPs, two layers.
func smallConfig() transformer.Config {
	return transformer.Config{NLayers: 2, DModel: 16, NHeads: 2, DHead: 8, DMLP: 32, DVocab: 13, NCtx: 12,
		NormalizationType: transformer.NormLN, ActFn: transformer.ActGELU, Seed: 5}.WithDefaults()
}

// batchTol bounds the difference between logits computed in batches of 7
// and in one batch: the rows are computed alike, and only the loss's
// summation order differs.
const batchTol = 1e-6

// TestEvalBatchesMatchOneRun checks that eval, reading 50 sequences 7 at a
// time (a partial last batch), prints what one run of the model on all 50
// gives.
func TestEvalBatchesMatchOneRun(t *testing.T) {
	dir, m := saveModel(t, smallConfig())
	path, toks := writeTokens(t, 1, 50, 9, 13)
	out, _, err := runCLI(t, "eval", "--model", dir, "--tokens", path, "--batch", "7", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Logits [][][]float64 `json:"logits"`
		Loss   float64       `json:"loss"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("eval --json output is not JSON: %v", err)
	}
	want, err := m.Run(context.Background(), toks, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantLoss, err := m.Loss(context.Background(), toks, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Logits) != 50 || len(got.Logits[49]) != 9 || len(got.Logits[49][8]) != 13 {
		t.Fatalf("logits of %d sequences, want 50 × 9 × 13", len(got.Logits))
	}
	for b := range got.Logits {
		for p := range got.Logits[b] {
			for v, x := range got.Logits[b][p] {
				if w := float64(want.Data[(b*9+p)*13+v]); math.Abs(x-w) > batchTol {
					t.Fatalf("logit [%d][%d][%d] = %v in batches of 7, %v in one run", b, p, v, x, w)
				}
			}
		}
	}
	if math.Abs(got.Loss-wantLoss) > batchTol {
		t.Errorf("loss %v in batches of 7, %v in one run", got.Loss, wantLoss)
	}
	text, _, err := runCLI(t, "eval", "--model", dir, "--tokens", path, "--batch", "7")
	if err != nil || strings.Count(text, "top prediction per position") != 50 || !strings.Contains(text, "50 sequences × 9 positions") {
		t.Errorf("eval text output (%v):\n%s", err, text)
	}
}

// maxEvalPeak bounds eval's peak memory on 20,000 sequences of 40 tokens
// with the default induction model. Before eval read in batches, it held
// every activation of all 20,000 at once: 9.4 GB measured. A batch of 64
// needs about 25 MB; the runtime and the file's buffers add a few tens.
const maxEvalPeak = 256 << 20

// TestEvalMemoryIsBounded runs eval on the 20,000 × 40 token file
// in a child process and checks its peak resident set.
func TestEvalMemoryIsBounded(t *testing.T) {
	c := transformer.Config{NLayers: 2, DModel: 64, NHeads: 4, DHead: 16, DVocab: 64, NCtx: 40, AttnOnly: true, Seed: 1}.WithDefaults()
	dir, _ := saveModel(t, c)
	path, _ := writeTokens(t, 2, 20000, 40, 64)
	peak := peakRSS(t, "eval", "--model", dir, "--tokens", path)
	t.Logf("eval of 20000 × 40 tokens: peak RSS %.0f MiB", peak/(1<<20))
	if peak > maxEvalPeak {
		t.Errorf("eval of 20000 × 40 tokens: peak RSS %.0f MiB, want at most %d MiB", peak/(1<<20), maxEvalPeak>>20)
	}
}

// TestOversizedWorkIsRefused asks for work no machine has the memory for:
// each command must refuse it before allocating, naming its estimate and
// the flag to change, instead of dying of Go's out-of-memory error.
func TestOversizedWorkIsRefused(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	_, _, err := runCLI(t, "train", "induction", "--out", out, "--seq-len", "30000", "--distinct=false", "--steps", "1")
	if err == nil || !strings.Contains(err.Error(), "needs about") || !strings.Contains(err.Error(), "--seq-len") {
		t.Errorf("train induction --seq-len 30000: %v, want a refusal naming the estimate and --seq-len", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("the refused run created %s: %v", out, err)
	}
	// One sequence of 65,536 tokens (the largest n_ctx) through 8 heads:
	// its attention scores and patterns alone are about 275 GB.
	c := transformer.Config{NLayers: 1, DModel: 8, NHeads: 8, DHead: 1, DVocab: 5, NCtx: 65536, AttnOnly: true, Seed: 1}.WithDefaults()
	dir, _ := saveModel(t, c)
	path, _ := writeTokens(t, 3, 1, 65536, 5)
	for _, args := range [][]string{
		{"eval", "--model", dir, "--tokens", path},
		{"lens", "--model", dir, "--tokens", path},
		{"analyze", "--model", dir, "--tokens", path},
		{"patch", "--model", dir, "--clean", path, "--corrupted", path, "--what", "attn_out", "--metric", "prob", "--answer", "1"},
	} {
		_, _, err := runCLI(t, args...)
		if err == nil || !strings.Contains(err.Error(), "needs about") || !strings.Contains(err.Error(), "GiB") || !strings.Contains(err.Error(), "--batch") {
			t.Errorf("%s on 65,536 tokens: %v, want a refusal naming the estimate and --batch", args[0], err)
		}
	}
}

// maxAnalysisPeak bounds the peak memory of patch, lens and analyze on
// 2,000 sequences of 40 tokens with the default induction model (with
// batches of 64, about 230, 90 and 100 MB measured). Before they read in
// batches, they held every sequence's activations at once: on 4,000
// sequences 3.3, 1.3 and 1.7 GB measured, and patch passed 21 GB on 20,000.
const maxAnalysisPeak = 384 << 20

// TestAnalysisMemoryIsBounded runs patch, lens and analyze on 2,000 × 40
// tokens in child processes and checks their peak resident sets. It takes
// half a minute, and under the race detector (CI's -short pass) the
// children's memory is the detector's, not ours: the full run checks it.
func TestAnalysisMemoryIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("three child processes of 2,000 sequences: not short (the full run checks them)")
	}
	c := transformer.Config{NLayers: 2, DModel: 64, NHeads: 4, DHead: 16, DVocab: 64, NCtx: 40, AttnOnly: true, Seed: 1}.WithDefaults()
	dir, _ := saveModel(t, c)
	clean, _ := writeTokens(t, 4, 2000, 40, 64)
	corrupted, _ := writeTokens(t, 5, 2000, 40, 64)
	for _, args := range [][]string{
		{"patch", "--model", dir, "--clean", clean, "--corrupted", corrupted, "--what", "attn_out", "--by-pos=false", "--metric", "logit-diff", "--answer", "1", "--wrong", "2", "--json"},
		{"lens", "--model", dir, "--tokens", clean, "--json"},
		{"analyze", "--model", dir, "--tokens", clean},
	} {
		peak := peakRSS(t, args...)
		t.Logf("%s of 2000 × 40 tokens: peak RSS %.0f MiB", args[0], peak/(1<<20))
		if peak > maxAnalysisPeak {
			t.Errorf("%s of 2000 × 40 tokens: peak RSS %.0f MiB, want at most %d MiB", args[0], peak/(1<<20), maxAnalysisPeak>>20)
		}
	}
}
