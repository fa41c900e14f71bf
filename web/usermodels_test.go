package web

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/transformer"
)

// The IOI-style sentence of the tests and its tokens under tinyMerges,
// worked out by hand: "When" has no full merge, the rest are words.
const (
	ioiClean     = "When Mary and John went to the store, John gave a drink to"
	ioiCorrupted = "When Mary and John went to the store, Mary gave a drink to"
)

var ioiPieces = []string{"W", "he", "n", " Mary", " and", " John", " went", " to", " the", " store", ",", " John", " gave", " a", " drink", " to"}

// namedTestServer serves the tiny HF model (with a tokenizer) as "tiny",
// and a TransformerLens file without one as "plain".
func namedTestServer(t *testing.T) (*Server, string) {
	t.Helper()
	dir := t.TempDir()
	hfDir := writeTinyHF(t, dir, "tiny", 2, 64, 1)
	plain, err := transformer.New(transformer.Config{NLayers: 1, DModel: 16, NHeads: 2, DHead: 8, DVocab: 20, NCtx: 12, AttnOnly: true, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	plainPath := filepath.Join(dir, "plain.safetensors")
	if err := plain.Save(plainPath, nil); err != nil {
		t.Fatal(err)
	}
	s, err := Open(Deps{RunsDir: filepath.Join(dir, "runs"), Models: []string{hfDir, plainPath}})
	if err != nil {
		t.Fatal(err)
	}
	return s, dir
}

// TestNamedModels lists the --model models with their architecture and
// tokenizer, never their paths.
func TestNamedModels(t *testing.T) {
	s, dir := namedTestServer(t)
	rec := do(t, s, "GET", "/api/models", "", nil)
	if rec.Code != 200 {
		t.Fatalf("GET /api/models: %d %s", rec.Code, rec.Body)
	}
	if body := rec.Body.String(); strings.Contains(body, dir) || strings.Contains(body, filepath.ToSlash(dir)) {
		t.Errorf("the model list reveals the models' folder %s: %s", dir, body)
	}
	var list []modelSummary
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range list {
		names = append(names, m.Name)
	}
	if !slices.Equal(names, []string{textDemoName, "demo", "tiny", "plain"}) {
		t.Fatalf("models %v, want %s, demo, tiny, plain", names, textDemoName)
	}
	tiny, plain := list[2], list[3]
	a := tiny.Arch
	if tiny.Source != "model" || tiny.File != "tiny" || a == nil || a.Layers != 2 || a.DModel != 16 || a.Heads != 2 || a.KVHeads != 2 ||
		a.Positional != "standard" || a.Norm != "LN" || a.MLP != "gelu_new" || a.Vocab != len(tinyVocab()) || a.NCtx != 64 {
		t.Errorf("tiny: %+v arch %+v", tiny, a)
	}
	if tk := tiny.Tokenizer; tk == nil || tk.Files != "vocab.json + merges.txt" || tk.Vocab != len(tinyVocab()) || tk.BOS != "" || tk.BOSID == nil {
		t.Errorf("tiny tokenizer %+v, want vocab.json + merges.txt, no automatic BOS, <|endoftext|> as BOS id", tk)
	}
	if plain.File != "plain.safetensors" || plain.Arch == nil || plain.Arch.MLP != "none (attention only)" || plain.Tokenizer == nil || !strings.Contains(plain.Tokenizer.Note, "no tokenizer") {
		t.Errorf("plain: %+v arch %+v tokenizer %+v", plain, plain.Arch, plain.Tokenizer)
	}
}

// TestOpenErrors: a model that does not load is an error naming its path.
func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nothing-here")
	if _, err := Open(Deps{RunsDir: dir, Models: []string{missing}}); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing model: %v, want an error naming %s", err, missing)
	}
	// A tokenizer larger than the model's vocabulary is refused.
	hfDir := writeTinyHF(t, dir, "small", 1, 16, 1)
	cfg := map[string]any{"model_type": "gpt2", "n_layer": 1, "n_embd": 16, "n_head": 2, "n_inner": 32, "vocab_size": 100, "n_positions": 16, "n_ctx": 16,
		"activation_function": "gelu_new", "layer_norm_epsilon": 1e-5, "tie_word_embeddings": true}
	writeJSONFile(t, filepath.Join(hfDir, "config.json"), cfg)
	if _, err := Open(Deps{RunsDir: dir, Models: []string{hfDir}}); err == nil || !strings.Contains(err.Error(), hfDir) {
		t.Errorf("mismatched model: %v, want an error naming %s", err, hfDir)
	}
	// Two models of one base name get distinct names.
	a := writeTinyHF(t, filepath.Join(dir, "a"), "m", 1, 16, 1)
	b := writeTinyHF(t, filepath.Join(dir, "b"), "m", 1, 16, 2)
	s, err := Open(Deps{RunsDir: dir, Models: []string{a, b}})
	if err != nil {
		t.Fatal(err)
	}
	if got := []string{s.models.named[0].name, s.models.named[1].name}; !slices.Equal(got, []string{"m", "m-2"}) {
		t.Errorf("names %v, want m, m-2", got)
	}
	// A run folder loads by its model.safetensors and is named after the
	// folder, as is a model.safetensors given itself.
	runs := filepath.Join(dir, "elsewhere")
	writeRun(t, runs, "myrun", transformer.Config{NLayers: 1, DModel: 16, NHeads: 2, DHead: 8, DVocab: 20, NCtx: 12, AttnOnly: true, Seed: 6})
	s, err = Open(Deps{RunsDir: dir, Models: []string{filepath.Join(runs, "myrun"), filepath.Join(runs, "myrun", modelFile)}})
	if err != nil {
		t.Fatal(err)
	}
	if got := []string{s.models.named[0].name, s.models.named[1].name}; !slices.Equal(got, []string{"myrun", "myrun-2"}) || s.models.named[0].tok != nil {
		t.Errorf("run folder names %v, want myrun, myrun-2 (no tokenizer)", got)
	}
}

// TestPromptEverywhere sends the sentence as text to every analysis and
// checks the tokens come back as the pieces worked out by hand.
func TestPromptEverywhere(t *testing.T) {
	s, _ := namedTestServer(t)
	var enc encodeResponse
	post(t, s, "/api/models/tiny/tokens/encode", `{"prompt": "`+ioiClean+`"}`, &enc)
	if !slices.Equal(enc.Pieces, ioiPieces) || len(enc.Tokens) != len(ioiPieces) || enc.BOSAdded || enc.BOS != "auto" {
		t.Errorf("encode: %+v, want pieces %q and no BOS", enc, ioiPieces)
	}
	if enc.Spans[3] != [2]int{4, 9} {
		t.Errorf("span of %q: %v, want [4 9]", ioiPieces[3], enc.Spans[3])
	}
	post(t, s, "/api/models/tiny/tokens/encode", `{"prompt": "to", "bos": "always"}`, &enc)
	if !enc.BOSAdded || !slices.Equal(enc.Pieces, []string{"<|endoftext|>", "t", "o"}) {
		t.Errorf("bos always: %+v", enc)
	}

	var att struct {
		Tokens      []int
		Pieces      []string
		Predictions []struct {
			Token int
			Text  string
		}
	}
	post(t, s, "/api/models/tiny/attention", `{"prompt": "`+ioiClean+`"}`, &att)
	if !slices.Equal(att.Pieces, ioiPieces) || !slices.Equal(att.Tokens, enc0(t, s)) {
		t.Errorf("attention pieces %q tokens %v", att.Pieces, att.Tokens)
	}
	vocab := tinyVocab()
	inverse := tinyPieces()
	for i, p := range att.Predictions {
		if p.Text != inverse[p.Token] {
			t.Errorf("prediction %d: token %d text %q, want %q", i, p.Token, p.Text, inverse[p.Token])
		}
	}

	var ln lensResponse
	f := false
	body, _ := json.Marshal(lensRequest{tokensInput: tokensInput{Prompt: ioiClean}, K: 3, Tuned: &f})
	post(t, s, "/api/models/tiny/lens", string(body), &ln)
	if !slices.Equal(ln.Pieces, ioiPieces) || len(ln.Logit.Top) != 5 || ln.Logit.Top[4][3][0].Text == "" {
		t.Errorf("lens: pieces %q, %d points", ln.Pieces, len(ln.Logit.Top))
	}

	var pr struct {
		CleanPieces     []string `json:"clean_pieces"`
		CorruptedPieces []string `json:"corrupted_pieces"`
		Answer, Wrong   *int
		AnswerText      *string `json:"answer_text"`
		WrongText       *string `json:"wrong_text"`
		Grid            struct {
			Axes             [][]string
			Values           [][]float64
			Clean, Corrupted float64
		}
	}
	post(t, s, "/api/models/tiny/patching", `{"clean_prompt": "`+ioiClean+`", "corrupted_prompt": "`+ioiCorrupted+`", "answer_text": " Mary", "wrong_text": " John", "what": "resid_pre"}`, &pr)
	if !slices.Equal(pr.CleanPieces, ioiPieces) || pr.CorruptedPieces[11] != " Mary" || *pr.AnswerText != " Mary" || *pr.WrongText != " John" ||
		*pr.Answer != vocab["ĠMary"] || *pr.Wrong != vocab["ĠJohn"] {
		t.Errorf("patching: %+v", pr)
	}
	// The two prompts differ at position 11 only, so patching layer 0's
	// input there makes the corrupted run the clean one: the metric of
	// that cell is the clean metric (normalised: 1), elsewhere in layer 0
	// the corrupted (0).
	if g := pr.Grid; len(g.Values) != 2 || len(g.Values[0]) != len(ioiPieces) {
		t.Errorf("grid axes %v", g.Axes)
	} else {
		for p, v := range g.Values[0] {
			want := g.Corrupted
			if p == 11 {
				want = g.Clean
			}
			if math.Abs(v-want) > 1e-4*(1+math.Abs(want)) {
				t.Errorf("resid_pre L0 position %d: %v, want %v", p, v, want)
			}
		}
	}

	// DLA: the components and the constant sum to the model's own logit
	// difference at the last position.
	var dla dlaResponse
	post(t, s, "/api/models/tiny/lens/dla", `{"prompt": "`+ioiClean+`", "answer_text": " Mary", "wrong_text": " John"}`, &dla)
	sum := dla.Const
	for _, v := range dla.Values {
		sum += v
	}
	if dla.Pos != 15 || dla.Answer != vocab["ĠMary"] || *dla.Wrong != vocab["ĠJohn"] || *dla.AnswerText != " Mary" || len(dla.Labels) != len(dla.Values) ||
		!slices.Contains(dla.Labels, "L1H1") || math.Abs(sum-dla.Logit) > 1e-3*(1+math.Abs(dla.Logit)) || math.Abs(dla.Total-sum) > 1e-9*(1+math.Abs(sum)) {
		t.Errorf("dla: %+v (sum %v)", dla, sum)
	}

	var circ circuitJSON
	rec := do(t, s, "GET", "/api/models/tiny/circuits/heads/1/0/ov?token_text=%20Mary&k=3", "", nil)
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &circ) != nil {
		t.Fatalf("circuit by text: %d %s", rec.Code, rec.Body)
	}
	if *circ.Token != vocab["ĠMary"] || circ.TokenText == nil || *circ.TokenText != " Mary" || len(circ.Top) != 3 || circ.Top[0].Text != inverse[circ.Top[0].Index] {
		t.Errorf("circuit row: %+v", circ)
	}

	runAPICases(t, s, []apiCase{
		{"lengths differ", "POST", "/api/models/tiny/patching", "", `{"clean_prompt": "` + ioiClean + `", "corrupted_prompt": "When Mary went", "answer_text": " Mary", "wrong_text": " John"}`, 400, "lengths must match"},
		{"answer not one token", "POST", "/api/models/tiny/patching", "", `{"clean_prompt": "` + ioiClean + `", "corrupted_prompt": "` + ioiCorrupted + `", "answer_text": "Mary", "wrong_text": " John"}`, 400, `is 2 tokens (\"M\" \"ary\"), not one`},
		{"both forms", "POST", "/api/models/tiny/patching", "", `{"clean": [1], "clean_prompt": "a", "corrupted_prompt": "a", "answer": 1, "wrong": 2}`, 400, "not both"},
		{"prompt and tokens", "POST", "/api/models/tiny/attention", "", `{"prompt": "a", "tokens": [1]}`, 400, "one of tokens, text and prompt"},
		{"bad bos", "POST", "/api/models/tiny/attention", "", `{"prompt": "a", "bos": "sometimes"}`, 400, "unknown BOS policy"},
		{"bos without prompt", "POST", "/api/models/tiny/attention", "", `{"tokens": [1], "bos": "never"}`, 400, "bos applies to a prompt"},
		{"too many tokens", "POST", "/api/models/tiny/attention", "", `{"prompt": "` + strings.Repeat(" to", 65) + `"}`, 400, "65 tokens, more than n_ctx 64"},
		{"too many bytes", "POST", "/api/models/tiny/attention", "", `{"prompt": "` + strings.Repeat("a", maxPromptBytes+1) + `"}`, 400, "more than the 65536"},
		{"no tokenizer", "POST", "/api/models/plain/attention", "", `{"prompt": "hello"}`, 400, "no tokenizer"},
		{"demo no tokenizer", "POST", "/api/models/demo/lens", "", `{"prompt": "hello"}`, 400, "cannot take a prompt"},
		{"get prompt", "GET", "/api/models/tiny/attention?prompt=%20Mary%20and&heads=L1H0,max&thumbnail=8", "", "", 200, `"pieces":[" Mary"," and"]`},
		{"dla without answer", "POST", "/api/models/tiny/lens/dla", "", `{"prompt": "a"}`, 400, "needs an"},
		{"dla answer of two tokens", "POST", "/api/models/tiny/lens/dla", "", `{"prompt": "a", "answer_text": "Mary"}`, 400, "not one"},
		{"dla pos", "POST", "/api/models/tiny/lens/dla", "", `{"prompt": "a", "answer": 1, "pos": 5}`, 400, "outside the 1 positions"},
		{"pos-qk by text", "GET", "/api/models/tiny/circuits/heads/0/0/pos-qk?token_text=%20Mary", "", "", 400, "rows are positions"},
	})
}

// tinyPieces maps the tiny vocabulary's ids to their text as the API
// shows it: bytes, a lone byte of no UTF-8 character as \xNN.
func tinyPieces() map[int]string {
	dec := map[rune]byte{}
	for b, s := range byteSymbols() {
		dec[[]rune(s)[0]] = byte(b)
	}
	out := map[int]string{}
	for sym, id := range tinyVocab() {
		var raw []byte
		for _, r := range sym {
			raw = append(raw, dec[r])
		}
		if sym == "<|endoftext|>" {
			raw = []byte(sym)
		}
		if len(raw) == 1 && raw[0] >= 0x80 {
			out[id] = fmt.Sprintf("\\x%02X", raw[0])
		} else {
			out[id] = string(raw)
		}
	}
	return out
}

// enc0 is the ids of ioiClean, from the tokenizer endpoint.
func enc0(t *testing.T, s *Server) []int {
	var enc encodeResponse
	post(t, s, "/api/models/tiny/tokens/encode", `{"prompt": "`+ioiClean+`"}`, &enc)
	return enc.Tokens
}

// writeRun saves a random model of cfg as run name of runsDir, as a
// training's checkpoint.
func writeRun(t *testing.T, runsDir, name string, cfg transformer.Config) {
	t.Helper()
	m, err := transformer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(runsDir, name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := m.Save(filepath.Join(runsDir, name, modelFile), nil); err != nil {
		t.Fatal(err)
	}
}

// TestRunCheckpointAppears: a checkpoint written into the runs folder
// after start is listed and served without a restart.
func TestRunCheckpointAppears(t *testing.T) {
	s, dir := namedTestServer(t)
	writeRun(t, filepath.Join(dir, "runs"), "fresh", transformer.Config{NLayers: 1, DModel: 16, NHeads: 2, DHead: 8, DVocab: 20, NCtx: 12, AttnOnly: true, Seed: 4})
	var list []modelSummary
	rec := do(t, s, "GET", "/api/models", "", nil)
	json.Unmarshal(rec.Body.Bytes(), &list)
	if len(list) != 5 || list[4].Name != "fresh" || list[4].Arch == nil || list[4].Arch.Layers != 1 {
		t.Fatalf("list after a new checkpoint: %+v", list)
	}
	if rec := do(t, s, "GET", "/api/models/fresh/attention?tokens=1,2,3", "", nil); rec.Code != http.StatusOK {
		t.Errorf("the new run's attention: %d %s", rec.Code, rec.Body)
	}
}

// TestPromptEndpointsChecked: the new endpoints sit behind the same Host
// and Origin checks and body bound as the others.
func TestPromptEndpointsChecked(t *testing.T) {
	s, _ := namedTestServer(t)
	srv := httptest.NewServer(s)
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	for _, tc := range []struct {
		name, path, host, origin, body string
		want                           int
	}{
		{"encode, evil origin", "/api/models/tiny/tokens/encode", "", "http://evil.example", `{"prompt": "a"}`, http.StatusForbidden},
		{"dla, evil host", "/api/models/tiny/lens/dla", "evil.example:" + port, "", `{"prompt": "a", "answer": 1}`, http.StatusMisdirectedRequest},
		{"attention prompt, same origin", "/api/models/tiny/attention", "", "http://127.0.0.1:" + port, `{"prompt": " Mary"}`, http.StatusOK},
		{"prompt over the body bound", "/api/models/tiny/attention", "", "", `{"prompt": "` + strings.Repeat("a", DefaultMaxBodyBytes) + `"}`, http.StatusRequestEntityTooLarge},
	} {
		if code, body := send(t, "POST", srv.URL+tc.path, tc.host, tc.origin, tc.body); code != tc.want {
			t.Errorf("%s: %d %.200s, want %d", tc.name, code, body, tc.want)
		}
	}
}
