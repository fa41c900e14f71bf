package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mechinterp/workbench/checkpoint"
	"github.com/mechinterp/workbench/transformer"
	"github.com/mechinterp/workbench/transformer/hf"
)

// The text fixture: a byte-level BPE tokenizer whose ids 0..255 are the
// bytes themselves, then eight merges that make " Mary" and " John" one
// token each, then <|endoftext|>; and a random GPT-2-shaped model with a
// row per token.
const (
	idMa    = 257 // " Ma"
	idMary  = 259 // " Mary"
	idJohn  = 263 // " John"
	idEOT   = 264 // <|endoftext|> (or <s> in the tokenizer.json variant)
	txVocab = 265
	txNCtx  = 16
)

// txMerges are the fixture's merges in rank order, byte-level spelling
// (Ġ is the space).
var txMerges = [][2]string{{"Ġ", "M"}, {"ĠM", "a"}, {"ĠMa", "r"}, {"ĠMar", "y"}, {"Ġ", "J"}, {"ĠJ", "o"}, {"ĠJo", "h"}, {"ĠJoh", "n"}}

// byteRunes is GPT-2's printable alphabet for bytes (bytes_to_unicode in
// OpenAI's encoder.py): printable Latin-1 bytes stand for themselves, the
// others for 256, 257, … in byte order.
func byteRunes() [256]rune {
	var r [256]rune
	n := rune(256)
	for b := range 256 {
		if b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE {
			r[b] = rune(b)
		} else {
			r[b] = n
			n++
		}
	}
	return r
}

// txVocabJSON is the fixture's vocabulary, byte-level spelling → id.
func txVocabJSON(eot string) map[string]int {
	runes := byteRunes()
	v := map[string]int{}
	for b := range 256 {
		v[string(runes[b])] = b
	}
	for k, m := range txMerges {
		v[m[0]+m[1]] = 256 + k
	}
	v[eot] = idEOT
	return v
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeGPT2Tokenizer writes vocab.json and merges.txt into dir.
func writeGPT2Tokenizer(t *testing.T, dir string) {
	t.Helper()
	writeFile(t, filepath.Join(dir, "vocab.json"), mustJSON(t, txVocabJSON("<|endoftext|>")))
	var b strings.Builder
	b.WriteString("#version: 0.2\n")
	for _, m := range txMerges {
		b.WriteString(m[0] + " " + m[1] + "\n")
	}
	writeFile(t, filepath.Join(dir, "merges.txt"), []byte(b.String()))
}

// writeLlamaStyleTokenizer writes a tokenizer.json of the same BPE with
// <s> as its added token and a tokenizer_config.json that asks for it as
// BOS (add_bos_token), as Llama's do.
func writeLlamaStyleTokenizer(t *testing.T, dir string) {
	t.Helper()
	merges := make([]string, len(txMerges))
	for k, m := range txMerges {
		merges[k] = m[0] + " " + m[1]
	}
	byteLevel := map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}
	tj := map[string]any{
		"version": "1.0", "truncation": nil, "padding": nil, "normalizer": nil, "post_processor": nil,
		"added_tokens": []map[string]any{{"id": idEOT, "content": "<s>", "single_word": false, "lstrip": false,
			"rstrip": false, "normalized": false, "special": true}},
		"pre_tokenizer": byteLevel, "decoder": byteLevel,
		"model": map[string]any{"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil,
			"end_of_word_suffix": nil, "fuse_unk": false, "byte_fallback": false, "vocab": txVocabJSON("<s>"), "merges": merges},
	}
	writeFile(t, filepath.Join(dir, "tokenizer.json"), mustJSON(t, tj))
	writeFile(t, filepath.Join(dir, "tokenizer_config.json"), []byte(`{"bos_token": "<s>", "add_bos_token": true}`))
}

// writeTextModel writes a random GPT-2 Hugging Face folder (config.json +
// model.safetensors, tied embeddings) of txVocab tokens into dir.
func writeTextModel(t *testing.T, dir string, seed uint64) {
	t.Helper()
	const d, H, dmlp, L = 16, 2, 32, 2
	rng := rand.New(rand.NewPCG(seed, seed))
	var ts []checkpoint.Tensor
	add := func(name string, mean, std float32, shape ...int) {
		n := 1
		for _, s := range shape {
			n *= s
		}
		data := make([]float32, n)
		for i := range data {
			data[i] = mean + std*float32(rng.NormFloat64())
		}
		ts = append(ts, checkpoint.Tensor{Name: name, Shape: shape, Data: data})
	}
	add("wte.weight", 0, 1, txVocab, d)
	add("wpe.weight", 0, 0.5, txNCtx, d)
	for l := range L {
		h := "h." + strconv.Itoa(l) + "."
		add(h+"ln_1.weight", 1, 0.1, d)
		add(h+"ln_1.bias", 0, 0.1, d)
		add(h+"attn.c_attn.weight", 0, 0.5, d, 3*d)
		add(h+"attn.c_attn.bias", 0, 0.1, 3*d)
		add(h+"attn.c_proj.weight", 0, 0.3, d, d)
		add(h+"attn.c_proj.bias", 0, 0.1, d)
		add(h+"ln_2.weight", 1, 0.1, d)
		add(h+"ln_2.bias", 0, 0.1, d)
		add(h+"mlp.c_fc.weight", 0, 0.3, d, dmlp)
		add(h+"mlp.c_fc.bias", 0, 0.1, dmlp)
		add(h+"mlp.c_proj.weight", 0, 0.3, dmlp, d)
		add(h+"mlp.c_proj.bias", 0, 0.1, d)
	}
	add("ln_f.weight", 1, 0.1, d)
	add("ln_f.bias", 0, 0.1, d)
	if err := checkpoint.WriteFile(filepath.Join(dir, "model.safetensors"), ts, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`{"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_layer": %d, "n_embd": %d, "n_head": %d,
		"n_inner": %d, "vocab_size": %d, "n_positions": %d, "n_ctx": %d, "activation_function": "gelu_new",
		"layer_norm_epsilon": 1e-05, "tie_word_embeddings": true}`, L, d, H, dmlp, txVocab, txNCtx, txNCtx)
	writeFile(t, filepath.Join(dir, "config.json"), []byte(cfg))
}

// textModelDir returns a Hugging Face GPT-2 folder with GPT-2-style
// tokenizer files.
func textModelDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeTextModel(t, dir, 1)
	writeGPT2Tokenizer(t, dir)
	return dir
}

// seqFile writes token sequences as a --tokens file.
func seqFile(t *testing.T, seqs ...[]int) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tokens.json")
	writeFile(t, p, mustJSON(t, seqs))
	return p
}

// "A Mary B John": A, " Mary", " ", B, " John" (no merge makes " B").
var maryJohn = []int{'A', idMary, ' ', 'B', idJohn}

type evalTextJSON struct {
	Logits [][][]float64 `json:"logits"`
	Loss   float64       `json:"loss"`
	Tokens [][]int       `json:"tokens"`
	Pieces [][]string    `json:"pieces"`
}

// TestEvalTextFindsModelTokenizer: eval --text encodes with the tokenizer
// files in the model's folder, with the BOS policy reported, and gives the
// logits of the same ids given as --tokens; --text-file reads the text
// from a file.
func TestEvalTextFindsModelTokenizer(t *testing.T) {
	dir := textModelDir(t)
	out, errOut, err := runCLI(t, "eval", "--model", dir, "--text", "A Mary B John", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var got evalTextJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if len(got.Tokens) != 1 || !slices.Equal(got.Tokens[0], maryJohn) {
		t.Errorf("tokens %v, want [%v]", got.Tokens, maryJohn)
	}
	if len(got.Pieces) != 1 || !slices.Equal(got.Pieces[0], []string{"A", " Mary", " ", "B", " John"}) {
		t.Errorf("pieces %q", got.Pieces)
	}
	if !strings.Contains(errOut, "--text: 5 tokens; bos: auto (none prepended)") {
		t.Errorf("stderr %q does not report the BOS policy and its effect", errOut)
	}
	ref, _, err := runCLI(t, "eval", "--model", dir, "--tokens", seqFile(t, maryJohn), "--json")
	if err != nil {
		t.Fatal(err)
	}
	var want evalTextJSON
	if err := json.Unmarshal([]byte(ref), &want); err != nil {
		t.Fatal(err)
	}
	if want.Tokens != nil || want.Pieces != nil {
		t.Errorf("--tokens input gained text fields: %s", ref[len(ref)-200:])
	}
	if fmt.Sprint(got.Logits) != fmt.Sprint(want.Logits) || got.Loss != want.Loss {
		t.Errorf("--text logits/loss differ from --tokens with the same ids")
	}

	textFile := filepath.Join(t.TempDir(), "prompt.txt")
	writeFile(t, textFile, []byte("A Mary B John"))
	out, _, err = runCLI(t, "eval", "--model", dir, "--text-file", textFile)
	if err != nil {
		t.Fatal(err)
	}
	// The human-readable output shows the input and the predictions as
	// pieces (␣ a space).
	if !strings.Contains(out, "input: [A][␣Mary][␣][B][␣John]") || !strings.Contains(out, "top prediction per position:") {
		t.Errorf("eval --text-file output:\n%s", out)
	}
}

// TestTextTokenizerFlag: a checkpoint without tokenizer files beside it
// needs --tokenizer for text, which may name a folder or a tokenizer.json;
// a tokenizer with more tokens than the model's vocabulary is refused.
func TestTextTokenizerFlag(t *testing.T) {
	src := textModelDir(t)
	m, err := hf.Load(src)
	if err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(t.TempDir(), "model.safetensors")
	if err := m.Save(ckpt, nil); err != nil {
		t.Fatal(err)
	}
	_, _, err = runCLI(t, "eval", "--model", ckpt, "--text", "A Mary")
	if err == nil || !strings.Contains(err.Error(), "--text needs a tokenizer") || !strings.Contains(err.Error(), "give --tokenizer") {
		t.Errorf("text without a tokenizer: %v", err)
	}
	out, _, err := runCLI(t, "eval", "--model", ckpt, "--tokenizer", src, "--text", "A Mary B John", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var got evalTextJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got.Tokens) != 1 || !slices.Equal(got.Tokens[0], maryJohn) {
		t.Errorf("--tokenizer DIR: tokens %v (%v)", got.Tokens, err)
	}

	llama := t.TempDir()
	writeLlamaStyleTokenizer(t, llama)
	out, errOut, err := runCLI(t, "eval", "--model", ckpt, "--tokenizer", filepath.Join(llama, "tokenizer.json"), "--text", "A Mary B John", "--json")
	if err != nil {
		t.Fatal(err)
	}
	// auto follows tokenizer_config.json's add_bos_token: <s> first.
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got.Tokens) != 1 || !slices.Equal(got.Tokens[0], append([]int{idEOT}, maryJohn...)) {
		t.Errorf("--tokenizer tokenizer.json, bos auto: tokens %v (%v)", got.Tokens, err)
	}
	if !strings.Contains(errOut, fmt.Sprintf("bos: auto (prepended id %d)", idEOT)) {
		t.Errorf("stderr %q does not say a BOS was prepended", errOut)
	}

	small := filepath.Join(t.TempDir(), "small.safetensors")
	sm, err := transformer.New(transformer.Config{NLayers: 1, DModel: 8, NHeads: 2, DHead: 4, DMLP: 8, DVocab: 100, NCtx: 8, NormalizationType: transformer.NormLN, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := sm.Save(small, nil); err != nil {
		t.Fatal(err)
	}
	_, _, err = runCLI(t, "eval", "--model", small, "--tokenizer", src, "--text", "A")
	if err == nil || !strings.Contains(err.Error(), "265 tokens, more than the model's d_vocab 100") {
		t.Errorf("a tokenizer larger than the model: %v", err)
	}
}

// TestTextFlagErrors: text and token flags exclude each other, the BOS
// policy is checked and reported, and a text longer than n_ctx or encoding
// to nothing is refused.
func TestTextFlagErrors(t *testing.T) {
	dir := textModelDir(t)
	toks := seqFile(t, maryJohn)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"eval", "--tokens", toks, "--text", "A"}, "--tokens and --text are mutually exclusive"},
		{[]string{"lens", "--text", "A", "--text-file", toks}, "--text and --text-file are mutually exclusive"},
		{[]string{"analyze", "--tokens", toks, "--text-file", toks}, "--tokens and --text-file are mutually exclusive"},
		{[]string{"patch", "--clean", toks, "--clean-text", "A", "--corrupted", toks, "--what", "resid_pre"}, "--clean and --clean-text are mutually exclusive"},
		{[]string{"eval"}, "give --tokens FILE, --text TEXT or --text-file FILE"},
		{[]string{"lens", "--tokens", toks, "--bos", "always"}, "--bos applies to text input only; the sequences of --tokens are used as given"},
		{[]string{"eval", "--tokens", toks, "--special"}, "--special applies to text input only"},
		{[]string{"eval", "--text", "A", "--bos", "sometimes"}, `--bos: tokenizer: unknown BOS policy "sometimes"`},
		{[]string{"eval", "--text", strings.Repeat(" Mary", txNCtx+1)}, "--text is 17 tokens, more than the model's n_ctx 16"},
		{[]string{"eval", "--text", ""}, "--text encodes to no tokens"},
		{[]string{"eval", "--text-file", filepath.Join(dir, "missing.txt")}, "--text-file: open"},
	} {
		args := append(slices.Clone(tc.args), "--model", dir)
		_, _, err := runCLI(t, args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one containing %q", args, err, tc.want)
		}
	}
	// Special-token text is plain text unless --special.
	for _, tc := range []struct {
		args []string
		want []int
	}{
		{nil, []int{'<', '|', 'e', 'n', 'd', 'o', 'f', 't', 'e', 'x', 't', '|', '>', 'A'}},
		{[]string{"--special"}, []int{idEOT, 'A'}},
	} {
		out, _, err := runCLI(t, append([]string{"eval", "--model", dir, "--text", "<|endoftext|>A", "--json"}, tc.args...)...)
		if err != nil {
			t.Fatal(err)
		}
		var got evalTextJSON
		if err := json.Unmarshal([]byte(out), &got); err != nil || len(got.Tokens) != 1 || !slices.Equal(got.Tokens[0], tc.want) {
			t.Errorf("%v: tokens %v (%v), want [%v]", tc.args, got.Tokens, err, tc.want)
		}
	}
	// --bos always prepends <|endoftext|> and says so.
	out, errOut, err := runCLI(t, "eval", "--model", dir, "--text", "A Mary", "--bos", "always", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var got evalTextJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got.Tokens) != 1 || !slices.Equal(got.Tokens[0], []int{idEOT, 'A', idMary}) {
		t.Errorf("--bos always: tokens %v (%v)", got.Tokens, err)
	}
	if !strings.Contains(errOut, fmt.Sprintf("bos: always (prepended id %d)", idEOT)) {
		t.Errorf("stderr %q", errOut)
	}
}

// TestLensText: lens --text shows the input and each point's top-1 token
// as pieces; --json adds each top token's piece and the input's tokens and
// pieces, and keeps the ids of --tokens.
func TestLensText(t *testing.T) {
	dir := textModelDir(t)
	out, _, err := runCLI(t, "lens", "--model", dir, "--text", "A Mary B John")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("lens --text:\n%s", out)
	var inputRow string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "input ") {
			inputRow = l
		}
	}
	if got := strings.Fields(inputRow); !slices.Equal(got, []string{"input", "A", "␣Mary", "␣", "B", "␣John"}) {
		t.Errorf("input row %q", inputRow)
	}
	if !strings.Contains(out, "top-5 next tokens after the last position (␣John), sequence 0:") {
		t.Errorf("lens --text does not list the next tokens:\n%s", out)
	}

	out, _, err = runCLI(t, "lens", "--model", dir, "--text", "A Mary B John", "--json", "--k", "3")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Layers []string `json:"layers"`
		Top    [][][][]struct {
			Token *int     `json:"token"`
			Prob  *float64 `json:"prob"`
			Piece *string  `json:"piece"`
		} `json:"top"`
		Tokens [][]int    `json:"tokens"`
		Pieces [][]string `json:"pieces"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Tokens) != 1 || !slices.Equal(got.Tokens[0], maryJohn) || len(got.Pieces) != 1 || got.Pieces[0][1] != " Mary" {
		t.Errorf("tokens %v pieces %q", got.Tokens, got.Pieces)
	}
	if len(got.Top) != len(got.Layers) || len(got.Top[0]) != 1 || len(got.Top[0][0]) != len(maryJohn) {
		t.Fatalf("top has shape %d×%d×%d", len(got.Top), len(got.Top[0]), len(got.Top[0][0]))
	}
	runes := byteRunes()
	for _, point := range got.Top {
		for _, tp := range point[0][0] {
			if tp.Token == nil || tp.Prob == nil || tp.Piece == nil {
				t.Fatalf("top entry lacks token, prob or piece: %+v", tp)
			}
			// The piece is the token's text: a byte for ids below 256,
			// else the merge's text.
			want := ""
			switch {
			case *tp.Token < 256:
				want = string([]byte{byte(*tp.Token)})
			case *tp.Token < idEOT:
				m := txMerges[*tp.Token-256]
				want = strings.ReplaceAll(m[0]+m[1], string(runes[' ']), " ")
			default:
				want = "<|endoftext|>"
			}
			if !utf8.ValidString(want) {
				want = "\uFFFD" // JSON strings hold characters: a partial one is U+FFFD (the id is exact)
			}
			if *tp.Piece != want {
				t.Errorf("token %d: piece %q, want %q", *tp.Token, *tp.Piece, want)
			}
		}
	}
}

// TestLensTrainText: lens train takes a text as its training sequence,
// and the tuned lens it writes evaluates on that text.
func TestLensTrainText(t *testing.T) {
	dir := textModelDir(t)
	out := filepath.Join(t.TempDir(), "tuned.safetensors")
	_, errOut, err := runCLI(t, "lens", "train", "--model", dir, "--text", " Mary B Mary B", "--steps", "3", "--out", out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut, "lens train: --text: 6 tokens; bos: auto (none prepended)") {
		t.Errorf("stderr %q", errOut)
	}
	if _, _, err := runCLI(t, "lens", "--model", dir, "--text", " Mary B Mary B", "--tuned", out); err != nil {
		t.Errorf("the tuned lens trained on text: %v", err)
	}
	_, _, err = runCLI(t, "lens", "train", "--model", dir, "--text", "A", "--tokens", seqFile(t, maryJohn), "--out", out)
	if err == nil || !strings.Contains(err.Error(), "lens train: --tokens and --text are mutually exclusive") {
		t.Errorf("--tokens with --text: %v", err)
	}
}

// TestAnalyzeTextInput: analyze --text runs the detectors on the text and shows
// each detector's strongest head at work, tokens as text.
func TestAnalyzeTextInput(t *testing.T) {
	dir := textModelDir(t)
	// " Mary B Mary B": the second " Mary" duplicates the first (dest 3,
	// src 0), and its successor B is the induction target (dest 3, src 1).
	text := " Mary B Mary B"
	out, _, err := runCLI(t, "analyze", "--model", dir, "--text", text, "--sequences", "4", "--baseline-samples", "4")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("analyze --text:\n%s", out)
	if !strings.Contains(out, "Detectors at work on sequence 0") || !strings.Contains(out, "␣Mary@3 → ␣Mary@0") {
		t.Errorf("analyze --text does not show the duplicate-token edge as text:\n%s", out)
	}
	out, _, err = runCLI(t, "analyze", "--model", dir, "--text", text, "--sequences", "4", "--baseline-samples", "4", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Ind      [][]float64       `json:"induction_score"`
		Examples []detectorExample `json:"detector_examples"`
		Tokens   [][]int           `json:"tokens"`
		Pieces   [][]string        `json:"pieces"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	seq := []int{idMary, ' ', 'B', idMary, ' ', 'B'}
	if len(got.Tokens) != 1 || !slices.Equal(got.Tokens[0], seq) || got.Ind == nil {
		t.Errorf("tokens %v, induction scores %v", got.Tokens, got.Ind)
	}
	names := []string{}
	for _, ex := range got.Examples {
		names = append(names, ex.Detector)
		for _, e := range ex.Edges {
			if e.DestToken != seq[e.Dest] || e.SrcToken != seq[e.Src] || e.Src > e.Dest || e.Weight < 0 || e.Weight > 1 {
				t.Errorf("%s: edge %+v does not match the sequence", ex.Detector, e)
			}
		}
		// Every weight shown is the head's weight at a place its
		// detector looks: prev-token edges join neighbours.
		if ex.Detector == "prev_token" && (len(ex.Edges) != maxExamples || ex.Edges[0].Dest != ex.Edges[0].Src+1) {
			t.Errorf("prev_token edges %+v", ex.Edges)
		}
	}
	if !slices.Equal(names, []string{"prev_token", "duplicate_token", "induction"}) {
		t.Errorf("detectors %v", names)
	}
}

// TestPatchText: patch with clean and corrupted text and string answers
// gives the sweep of the same ids given as files, labels positions with
// their tokens, and adds the tokens and pieces to --json.
func TestPatchText(t *testing.T) {
	dir := textModelDir(t)
	clean, corrupted := "A Mary B John C", "A John B John C"
	text := []string{"patch", "--model", dir, "--clean-text", clean, "--corrupted-text", corrupted,
		"--answer", " Mary", "--wrong", " John", "--what", "resid_pre"}
	out, errOut, err := runCLI(t, append(slices.Clone(text), "--json")...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut, fmt.Sprintf(`--answer " Mary" is token %d`, idMary)) || !strings.Contains(errOut, "--clean-text: 7 tokens; bos: auto (none prepended)") {
		t.Errorf("stderr %q does not report the answer's token and the BOS policy", errOut)
	}
	var got struct {
		patchJSON
		CleanTokens     [][]int    `json:"clean_tokens"`
		CleanPieces     [][]string `json:"clean_pieces"`
		CorruptedTokens [][]int    `json:"corrupted_tokens"`
		CorruptedPieces [][]string `json:"corrupted_pieces"`
		AnswerToken     *int       `json:"answer_token"`
		AnswerPiece     string     `json:"answer_piece"`
		WrongToken      *int       `json:"wrong_token"`
		WrongPiece      string     `json:"wrong_piece"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	cleanIDs := []int{'A', idMary, ' ', 'B', idJohn, ' ', 'C'}
	corruptedIDs := []int{'A', idJohn, ' ', 'B', idJohn, ' ', 'C'}
	if !slices.Equal(got.CleanTokens[0], cleanIDs) || !slices.Equal(got.CorruptedTokens[0], corruptedIDs) ||
		got.CleanPieces[0][1] != " Mary" || got.CorruptedPieces[0][1] != " John" ||
		got.AnswerToken == nil || *got.AnswerToken != idMary || got.AnswerPiece != " Mary" ||
		got.WrongToken == nil || *got.WrongToken != idJohn || got.WrongPiece != " John" {
		t.Errorf("text fields: %s", out)
	}
	// The same sweep on the same ids from files, answers as ids.
	ref, _, err := runCLI(t, "patch", "--model", dir, "--clean", seqFile(t, cleanIDs), "--corrupted", seqFile(t, corruptedIDs),
		"--answer", strconv.Itoa(idMary), "--wrong", strconv.Itoa(idJohn), "--what", "resid_pre", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var want patchJSON
	if err := json.Unmarshal([]byte(ref), &want); err != nil {
		t.Fatal(err)
	}
	if string(got.Values) != string(want.Values) || got.Clean != want.Clean || got.Corrupted != want.Corrupted ||
		fmt.Sprint(got.Axes) != fmt.Sprint(want.Axes) {
		t.Errorf("text sweep differs from the id sweep:\n%s\n%s", out, ref)
	}
	if got.Clean == got.Corrupted {
		t.Errorf("clean = corrupted = %v: the fixture shows nothing", got.Clean)
	}

	table, _, err := runCLI(t, text...)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("patch table:\n%s", table)
	rows := map[string]string{}
	for _, line := range strings.Split(table, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			rows[f[0]] = strings.Join(f[1:], " ")
		}
	}
	if !strings.Contains(table, fmt.Sprintf("answer: [␣Mary] (%d), wrong: [␣John] (%d)\n", idMary, idJohn)) ||
		rows["clean"] != "A ␣Mary ␣ B ␣John ␣ C" || rows["corrupted"] != "· ␣John · · · · ·" || rows["pos"] != "0 1 2 3 4 5 6" {
		t.Errorf("the table does not show the tokens:\n%s", table)
	}
	// A one-sequence token file is labelled alike, from the model's
	// tokenizer; the table is the text input's.
	idTable, _, err := runCLI(t, "patch", "--model", dir, "--clean", seqFile(t, cleanIDs), "--corrupted", seqFile(t, corruptedIDs),
		"--answer", strconv.Itoa(idMary), "--wrong", strconv.Itoa(idJohn), "--what", "resid_pre")
	if err != nil {
		t.Fatal(err)
	}
	if idTable != table {
		t.Errorf("token-file table:\n%s\ntext table:\n%s", idTable, table)
	}
}

// TestPatchTextErrors: clean and corrupted texts of different lengths,
// answers that are not one token, and text mixed with token files are
// refused with errors that show the tokens.
func TestPatchTextErrors(t *testing.T) {
	dir := textModelDir(t)
	toks := seqFile(t, maryJohn)
	base := []string{"patch", "--model", dir, "--what", "resid_pre", "--metric", "logit-diff"}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--clean-text", "A Mary B John C", "--corrupted-text", "A Mary B Johnny C", "--answer", " Mary", "--wrong", " John"},
			[]string{"the clean text is 7 tokens and the corrupted text 9", "clean (--clean-text):         [A][␣Mary][␣][B][␣John][␣][C]",
				"corrupted (--corrupted-text): [A][␣Mary][␣][B][␣John][n][y][␣][C]"}},
		{[]string{"--clean-text", "A Mary", "--corrupted-text", "A John", "--answer", "Mary", "--wrong", " John"},
			[]string{`--answer "Mary" is 4 tokens [M][a][r][y], want one token`}},
		{[]string{"--clean-text", "A Mary", "--corrupted-text", "A John", "--answer", " Mary", "--wrong", " Johnny"},
			[]string{`--wrong " Johnny" is 3 tokens [␣John][n][y], want one token`}},
		{[]string{"--clean-text", "A Mary", "--corrupted", toks, "--answer", " Mary", "--wrong", " John"},
			[]string{"both as text (--clean-text, --corrupted-text) or both as token files (--clean, --corrupted), not --clean-text with --corrupted"}},
	} {
		args := append(slices.Clone(base), tc.args...)
		_, _, err := runCLI(t, args...)
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%q:\nerror %v\nwant one containing %q", tc.args, err, w)
			}
		}
	}
}

// TestBrokenModelTokenizer: tokenizer files in the model's folder that do
// not load leave commands on token ids running, with a note on stderr,
// and make text input fail with the reason; tokenize --model on a folder
// without tokenizer files says what is missing.
func TestBrokenModelTokenizer(t *testing.T) {
	dir := textModelDir(t)
	if err := os.Remove(filepath.Join(dir, "merges.txt")); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := runCLI(t, "eval", "--model", dir, "--tokens", seqFile(t, maryJohn))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut, "eval: note: tokens are shown as ids: the tokenizer in "+dir) || !strings.Contains(out, "sequence 0, top prediction per position: ") {
		t.Errorf("stderr %q, stdout %q", errOut, out)
	}
	_, _, err = runCLI(t, "eval", "--model", dir, "--text", "A")
	if err == nil || !strings.Contains(err.Error(), "--text needs a tokenizer: the tokenizer in "+dir) || !strings.Contains(err.Error(), "merges.txt") {
		t.Errorf("text with a broken tokenizer: %v", err)
	}
	empty := t.TempDir()
	writeTextModel(t, empty, 2)
	_, _, err = runCLI(t, "tokenize", "--model", empty, "--text", "A")
	if err == nil || !strings.Contains(err.Error(), empty+" holds no tokenizer files") {
		t.Errorf("tokenize --model without tokenizer files: %v", err)
	}
}
