package web

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/checkpoint"
)

// The --model tests load a tiny GPT-2-format Hugging Face folder, written
// here with random weights and a byte-level BPE tokenizer (vocab.json +
// merges.txt) of a few merges, whose vocabulary is the model's d_vocab.

// tinyMerges make the test sentences' names and short words single tokens
// (Ġ is the byte-level space).
var tinyMerges = [][2]string{
	{"Ġ", "t"}, {"h", "e"}, {"Ġt", "he"}, {"Ġ", "J"}, {"o", "h"}, {"oh", "n"}, {"ĠJ", "ohn"},
	{"Ġ", "M"}, {"a", "r"}, {"ar", "y"}, {"ĠM", "ary"}, {"Ġt", "o"}, {"Ġ", "a"}, {"n", "d"},
	{"Ġa", "nd"}, {"Ġ", "w"}, {"e", "n"}, {"Ġw", "en"}, {"Ġwen", "t"}, {"Ġ", "s"}, {"Ġs", "t"},
	{"o", "r"}, {"Ġst", "or"}, {"Ġstor", "e"}, {"Ġ", "g"}, {"a", "v"}, {"Ġg", "av"}, {"Ġgav", "e"},
	{"Ġ", "d"}, {"r", "i"}, {"ri", "n"}, {"rin", "k"}, {"Ġd", "rink"}, {"W", "h"}, {"Wh", "en"},
}

// byteSymbols returns the byte-level alphabet GPT-2's vocab.json uses:
// printable bytes as themselves, the rest as U+0100 onwards in byte order.
func byteSymbols() []string {
	out := make([]string, 256)
	next := rune(0x100)
	for b := range 256 {
		if b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE {
			out[b] = string(rune(b))
		} else {
			out[b] = string(next)
			next++
		}
	}
	return out
}

// tinyVocab returns the vocabulary: the 256 bytes, the merges' results and
// <|endoftext|>.
func tinyVocab() map[string]int {
	vocab := map[string]int{}
	for _, s := range byteSymbols() {
		vocab[s] = len(vocab)
	}
	for _, m := range tinyMerges {
		vocab[m[0]+m[1]] = len(vocab)
	}
	vocab["<|endoftext|>"] = len(vocab)
	return vocab
}

// writeTinyHF writes a GPT-2 folder with nLayers layers, d_model 16, 2
// heads of 8, d_mlp 32, n_ctx nCtx and the tiny tokenizer into dir/name,
// and returns its path.
func writeTinyHF(t *testing.T, dir, name string, nLayers, nCtx int, seed uint64) string {
	t.Helper()
	const d, heads, dMLP = 16, 2, 32
	vocab := tinyVocab()
	V := len(vocab)
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(path, 0o755); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	var tensors []checkpoint.Tensor
	add := func(name string, std, mean float64, shape ...int) {
		n := 1
		for _, s := range shape {
			n *= s
		}
		data := make([]float32, n)
		for i := range data {
			data[i] = float32(mean + std*rng.NormFloat64())
		}
		tensors = append(tensors, checkpoint.Tensor{Name: name, Shape: shape, Data: data})
	}
	add("wte.weight", 0.5, 0, V, d)
	add("wpe.weight", 0.5, 0, nCtx, d)
	for l := range nLayers {
		p := "h." + strconv.Itoa(l) + "."
		add(p+"ln_1.weight", 0.1, 1, d)
		add(p+"ln_1.bias", 0.1, 0, d)
		add(p+"attn.c_attn.weight", 0.6, 0, d, 3*d)
		add(p+"attn.c_attn.bias", 0.1, 0, 3*d)
		add(p+"attn.c_proj.weight", 0.2, 0, d, d)
		add(p+"attn.c_proj.bias", 0.1, 0, d)
		add(p+"ln_2.weight", 0.1, 1, d)
		add(p+"ln_2.bias", 0.1, 0, d)
		add(p+"mlp.c_fc.weight", 0.2, 0, d, dMLP)
		add(p+"mlp.c_fc.bias", 0.1, 0, dMLP)
		add(p+"mlp.c_proj.weight", 0.2, 0, dMLP, d)
		add(p+"mlp.c_proj.bias", 0.1, 0, d)
	}
	add("ln_f.weight", 0.1, 1, d)
	add("ln_f.bias", 0.1, 0, d)
	if err := checkpoint.WriteFile(filepath.Join(path, "model.safetensors"), tensors, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	config := map[string]any{"model_type": "gpt2", "architectures": []string{"GPT2LMHeadModel"}, "n_layer": nLayers, "n_embd": d,
		"n_head": heads, "n_inner": dMLP, "vocab_size": V, "n_positions": nCtx, "n_ctx": nCtx, "activation_function": "gelu_new",
		"layer_norm_epsilon": 1e-5, "tie_word_embeddings": true}
	writeJSONFile(t, filepath.Join(path, "config.json"), config)
	writeJSONFile(t, filepath.Join(path, "vocab.json"), vocab)
	var merges strings.Builder
	merges.WriteString("#version: 0.2\n")
	for _, m := range tinyMerges {
		merges.WriteString(m[0] + " " + m[1] + "\n")
	}
	if err := os.WriteFile(filepath.Join(path, "merges.txt"), []byte(merges.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeJSONFile(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
