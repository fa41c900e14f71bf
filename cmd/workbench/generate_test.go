package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/internal/testenv"
	"github.com/mechinterp/workbench/transformer"
	"github.com/mechinterp/workbench/transformer/hf"
)

// generateJSON runs generate with --json and returns its token lists,
// checking that the output is exactly {"tokens": [[...], ...]}.
func generateJSON(t *testing.T, args ...string) [][]int32 {
	t.Helper()
	stdout, stderr, err := runCLI(t, append([]string{"generate", "--json"}, args...)...)
	if err != nil {
		t.Fatalf("generate %v: %v\n%s", args, err, stderr)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal([]byte(stdout), &keys); err != nil || len(keys) != 1 || keys["tokens"] == nil {
		t.Fatalf("generate %v printed %q, want exactly {\"tokens\": [[...]]}", args, stdout)
	}
	var out [][]int32
	if err := json.Unmarshal(keys["tokens"], &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestGenerateCLI: generate reads prompts of different lengths and prints
// the new tokens of each, those Model.Generate gives for the same options,
// greedy, sampled and stopping at EOS.
func TestGenerateCLI(t *testing.T) {
	dir, m := saveModel(t, smallConfig()) // n_ctx 12, d_vocab 13
	prompts := [][]int32{{1, 2, 3}, {4}, {5, 6, 7, 8, 9, 10, 11}}
	b, _ := json.Marshal(prompts)
	toks := writeTokensFile(t, string(b))
	greedy, err := m.Generate(context.Background(), prompts, transformer.GenerateOptions{MaxNew: 5})
	if err != nil {
		t.Fatal(err)
	}
	eos := greedy[0][1]
	for _, tc := range []struct {
		args []string
		opts transformer.GenerateOptions
	}{
		{[]string{"--max-new", "5"}, transformer.GenerateOptions{MaxNew: 5}},
		{[]string{"--max-new", "5", "--temperature", "1.5", "--top-k", "4", "--top-p", "0.9", "--seed", "7", "--workers", "2"},
			transformer.GenerateOptions{MaxNew: 5, Temperature: 1.5, TopK: 4, TopP: 0.9, Seed: 7}},
		{[]string{"--max-new", "5", "--eos", fmt.Sprint(eos), "--eos", "0"}, transformer.GenerateOptions{MaxNew: 5, EOS: []int32{eos, 0}}},
	} {
		want, err := m.Generate(context.Background(), prompts, tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		got := generateJSON(t, append([]string{"--model", dir, "--tokens", toks}, tc.args...)...)
		if !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("generate %v: %v, Model.Generate %v", tc.args, got, want)
		}
		if stop := slices.Index(greedy[0], eos); tc.opts.EOS != nil && !slices.Equal(got[0], greedy[0][:stop+1]) {
			t.Errorf("--eos %d: prompt 0 gave %v, want the greedy run %v up to its EOS", eos, got[0], greedy[0])
		}
	}
	stdout, _, err := runCLI(t, "generate", "--model", dir, "--tokens", toks, "--max-new", "2")
	if err != nil || !strings.Contains(stdout, "prompt 2 (7 tokens): 2 new: ") {
		t.Errorf("human output: %v\n%s", err, stdout)
	}
}

// byteLevelRunes is GPT-2's byte-to-character table (bytes_to_unicode):
// printable bytes stand for themselves, the others for 256, 257, ….
func byteLevelRunes() [256]rune {
	var r [256]rune
	n := 0
	for b := range 256 {
		if b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE {
			r[b] = rune(b)
		} else {
			r[b] = rune(256 + n)
			n++
		}
	}
	return r
}

// TestGenerateCLIText: --text encodes the prompt with the tokenizer beside
// the model and prints the continuation decoded; without a tokenizer it is
// a clear error.
func TestGenerateCLIText(t *testing.T) {
	c := smallConfig()
	c.DVocab, c.DVocabOut = 256, 256
	dir, m := saveModel(t, c)
	vocab := map[string]int{}
	for b, r := range byteLevelRunes() {
		vocab[string(r)] = b
	}
	vb, _ := json.Marshal(vocab)
	if err := os.WriteFile(filepath.Join(dir, "vocab.json"), vb, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "merges.txt"), []byte("#version: 0.2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// One token per byte: "hi" is [104 105].
	want, err := m.Generate(context.Background(), [][]int32{{'h', 'i'}}, transformer.GenerateOptions{MaxNew: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := generateJSON(t, "--model", dir, "--text", "hi", "--max-new", "3"); !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("--text hi: %v, want %v", got, want)
	}
	stdout, _, err := runCLI(t, "generate", "--model", dir, "--text", "hi", "--max-new", "3")
	if wantText := "text: hi" + string([]byte{byte(want[0][0]), byte(want[0][1]), byte(want[0][2])}) + "\n"; err != nil || !strings.Contains(stdout, wantText) {
		t.Errorf("--text output %q (err %v), want a line %q", stdout, err, wantText)
	}
	bare, _ := saveModel(t, c)
	if _, _, err := runCLI(t, "generate", "--model", bare, "--text", "hi", "--max-new", "3"); err == nil || !strings.Contains(err.Error(), "needs a tokenizer") {
		t.Errorf("--text without a tokenizer: err %v", err)
	}
}

// TestGenerateCLIBadInput: every bad flag or input is an error naming it.
func TestGenerateCLIBadInput(t *testing.T) {
	dir, _ := saveModel(t, smallConfig()) // n_ctx 12, d_vocab 13
	toks := writeTokensFile(t, `[[1, 2], [3]]`)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--model", dir, "--tokens", toks}, "--max-new is required"},
		{[]string{"--model", dir, "--max-new", "2"}, "give --tokens FILE, --text TEXT"},
		{[]string{"--model", dir, "--tokens", toks, "--text", "x", "--max-new", "2"}, "mutually exclusive"},
		{[]string{"--model", dir, "--tokens", toks, "--max-new", "2", "--eos", "-3"}, `"-3" is not a token id`},
		{[]string{"--model", dir, "--tokens", toks, "--max-new", "2", "--top-k", "3"}, "need temperature > 0"},
		{[]string{"--model", dir, "--tokens", toks, "--max-new", "11"}, "n_ctx"},
		{[]string{"--model", dir, "--tokens", toks, "--max-new", "-1"}, "max_new"},
		{[]string{"--model", dir, "--tokens", toks, "--max-new", "2", "--eos", "13"}, "eos id 13"},
		{[]string{"--model", dir, "--tokens", writeTokensFile(t, `[[1, 13]]`), "--max-new", "2"}, "token 13"},
		{[]string{"--model", dir, "--tokens", writeTokensFile(t, `[[1], []]`), "--max-new", "2"}, "sequence 1 is empty"},
		{[]string{"--model", dir, "--tokens", writeTokensFile(t, `[[1.5]]`), "--max-new", "2"}, "not a token id"},
		{[]string{"--model", dir, "--tokens", toks, "--max-new", "2", "--temprature", "1"}, "temprature"},
		{[]string{"--model", dir, "--tokens", toks, "--max-new", "2", "extra"}, `unexpected argument "extra"`},
	} {
		_, stderr, err := runCLI(t, append([]string{"generate"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error()+stderr, tc.want) {
			t.Errorf("generate %v: err %v, want one naming %q", tc.args, err, tc.want)
		}
	}
	// A prompt of 65,535 tokens through 8 heads: its prefill's attention
	// scores and patterns alone are about 275 GB; refused before allocating.
	c := transformer.Config{NLayers: 1, DModel: 8, NHeads: 8, DHead: 1, DVocab: 5, NCtx: 65536, AttnOnly: true, Seed: 1}.WithDefaults()
	big, _ := saveModel(t, c)
	path, _ := writeTokens(t, 3, 1, 65535, 5)
	if _, _, err := runCLI(t, "generate", "--model", big, "--tokens", path, "--max-new", "1"); err == nil || !strings.Contains(err.Error(), "needs about") || !strings.Contains(err.Error(), "--max-new") {
		t.Errorf("generate after 65,535 tokens: %v, want a refusal naming the estimate and --max-new", err)
	}
}

// TestGenerateHuggingFaceFolders: on the converted GPT-2 (tied), Pythia
// (partial rotary, parallel attention and MLP) and Llama (GQA, SwiGLU)
// fixtures, `generate --json` with the cache gives, at every step, the
// argmax of the full forward pass recomputed on the sequence so far, for
// prompts of different lengths in one batch. Steps after a near tie (gap
// below 1e-3, where float32 rounding may decide) are not compared.
func TestGenerateHuggingFaceFolders(t *testing.T) {
	root := testenv.SharedDir(t, "hf")
	const maxNew, tieGap = 8, 1e-3
	for _, name := range []string{"gpt2_tiny", "pythia_tiny", "llama_gqa_tiny"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(root, name)
			m, err := hf.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			var seqs [][]int32
			b, err := os.ReadFile(filepath.Join(dir, "tokens.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &seqs); err != nil {
				t.Fatal(err)
			}
			prompts := [][]int32{seqs[0][:m.Cfg.NCtx-maxNew], seqs[1][:5], seqs[2][:1]}
			pb, _ := json.Marshal(prompts)
			got := generateJSON(t, "--model", dir, "--tokens", writeTokensFile(t, string(pb)), "--max-new", fmt.Sprint(maxNew), "--temperature", "0")
			compared := 0
			for i, p := range prompts {
				seq := make([]int, len(p))
				for j, v := range p {
					seq[j] = int(v)
				}
				for s := range maxNew {
					logits, err := m.Run(context.Background(), [][]int{seq}, nil)
					if err != nil {
						t.Fatal(err)
					}
					V := m.Cfg.DVocabOut
					row := logits.Data[(len(seq)-1)*V:]
					order := make([]int, V)
					for j := range order {
						order[j] = j
					}
					slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(row[b], row[a]) })
					if float64(row[order[0]]-row[order[1]]) < tieGap {
						break
					}
					if int(got[i][s]) != order[0] {
						t.Fatalf("prompt %d step %d: generate gave %d, the full forward's argmax is %d (%v)", i, s, got[i][s], order[0], got[i])
					}
					compared++
					seq = append(seq, order[0])
				}
			}
			t.Logf("%d of %d steps compared", compared, len(prompts)*maxNew)
			if compared < maxNew {
				t.Errorf("only %d steps compared (near ties)", compared)
			}
		})
	}
}
