package main

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/checkpoint"
	"github.com/mechinterp/workbench/transformer"
	"github.com/mechinterp/workbench/transformer/hf"
)

// hfFixture is a tiny Hugging Face folder of transformer/hf's testdata.
func hfFixture(name string) string {
	return filepath.Join("..", "..", "transformer", "hf", "testdata", name)
}

// fixtureTokens are token sequences valid for every hfFixture (vocabulary 40).
var fixtureTokens = [][]int{{1, 7, 39, 4, 4, 12, 30, 2, 0, 19}, {5, 5, 21, 8, 33, 1, 2, 3, 38, 9}}

// TestConvertRoundTrip: `workbench convert` writes a TransformerLens-named
// safetensors file whose model computes the same logits, bit for bit, as
// the Hugging Face folder it came from (GPT-Neo's local attention and
// unscaled scores, Qwen2's q/k/v biases and BF16 weights, Mistral's
// sliding window), with the config and the source in its metadata.
func TestConvertRoundTrip(t *testing.T) {
	for _, name := range []string{"gpt_neo_tiny", "qwen2_tiny_bf16", "mistral_tiny"} {
		t.Run(name, func(t *testing.T) {
			src := hfFixture(name)
			out := filepath.Join(t.TempDir(), "model.safetensors")
			args := []string{"convert", src, "--out", out}
			if name == "mistral_tiny" {
				args = []string{"convert", "--out", out, "--model", src} // the other spelling
			}
			stdout, stderr, err := runCLI(t, args...)
			if err != nil {
				t.Fatalf("%v\n%s", err, stderr)
			}
			if !strings.Contains(stdout, "wrote "+out) {
				t.Errorf("stdout %q", stdout)
			}
			want, err := hf.Load(src)
			if err != nil {
				t.Fatal(err)
			}
			got, err := transformer.Load(out)
			if err != nil {
				t.Fatal(err)
			}
			if got.Cfg != want.Cfg {
				t.Errorf("config %+v, want %+v", got.Cfg, want.Cfg)
			}
			gl, err := got.Run(context.Background(), fixtureTokens, nil)
			if err != nil {
				t.Fatal(err)
			}
			wl, err := want.Run(context.Background(), fixtureTokens, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(gl.Data, wl.Data) {
				t.Error("logits of the converted model differ from the folder's")
			}
			f, err := checkpoint.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Metadata[convertSourceKey] != src {
				t.Errorf("metadata %q = %q, want %q", convertSourceKey, f.Metadata[convertSourceKey], src)
			}
			for _, info := range f.Tensors() {
				if info.DType != checkpoint.F32 {
					t.Errorf("tensor %s written as %s", info.Name, info.DType)
				}
			}
		})
	}
}

func TestConvertRefusals(t *testing.T) {
	dir := t.TempDir()
	exists := filepath.Join(dir, "exists.safetensors")
	if err := os.WriteFile(exists, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := hfFixture("gpt_neo_tiny")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"convert", "--out", filepath.Join(dir, "a.safetensors")}, "want a source"},
		{[]string{"convert", src}, "--out is required"},
		{[]string{"convert", src, src, "--out", filepath.Join(dir, "b.safetensors")}, "want one source"},
		{[]string{"convert", src, "--model", src, "--out", filepath.Join(dir, "c.safetensors")}, "given twice"},
		{[]string{"convert", src, "--out", exists}, "--force"},
		{[]string{"convert", dir, "--out", filepath.Join(dir, "d.safetensors")}, "model.safetensors"},
		{[]string{"convert", src, "--out", filepath.Join(dir, "e.safetensors"), "--bogus"}, "bogus"},
	} {
		_, _, err := runCLI(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
	// --force overwrites.
	if _, _, err := runCLI(t, "convert", src, "--out", exists, "--force"); err != nil {
		t.Errorf("--force: %v", err)
	}
	if _, err := transformer.Load(exists); err != nil {
		t.Errorf("after --force: %v", err)
	}
}

// TestInspectHuggingFaceFolder: inspect describes a Hugging Face folder
// from its config and headers: model_type, the mapped config, tensor count
// by dtype and parameter counts, as a table and as JSON.
func TestInspectHuggingFaceFolder(t *testing.T) {
	src := hfFixture("qwen2_tiny_bf16")
	m, err := hf.Load(src)
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := runCLI(t, "inspect", src)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"model_type   qwen2", "tensors      26 (BF16 26)", `"n_key_value_heads": 2`, "model.layers.1.self_attn.q_proj.bias"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, out)
		}
	}
	js, _, err := runCLI(t, "inspect", "--json", src)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Format      string          `json:"format"`
		ModelType   string          `json:"model_type"`
		Config      json.RawMessage `json:"config"`
		ConfigErr   string          `json:"config_error"`
		DTypes      map[string]int  `json:"dtypes"`
		Params      int             `json:"parameters"`
		ModelParams int             `json:"model_parameters"`
		Tensors     []struct {
			Name  string `json:"name"`
			DType string `json:"dtype"`
			Shape []int  `json:"shape"`
		} `json:"tensors"`
	}
	if err := json.Unmarshal([]byte(js), &got); err != nil {
		t.Fatal(err)
	}
	cfg, err := transformer.ParseConfig(got.Config)
	if err != nil {
		t.Fatal(err)
	}
	sum := 0
	for _, tn := range got.Tensors {
		n := 1
		for _, s := range tn.Shape {
			n *= s
		}
		sum += n
	}
	if got.Format != "huggingface" || got.ModelType != "qwen2" || got.ConfigErr != "" || cfg != m.Cfg || got.DTypes["BF16"] != 26 || len(got.Tensors) != 26 ||
		got.Params != sum || got.ModelParams != m.Cfg.NumParams() {
		t.Errorf("inspect --json: %s", js)
	}
}

// TestEvalHFFixtures: `workbench eval --model DIR --json` on the GPT-Neo,
// Qwen2 (BF16) and Mistral fixtures gives the logits of the independent
// NumPy reference (transformer/hf/testdata/make_fixtures.py), and the
// analysis commands run on the GPT-Neo one (local attention).
func TestEvalHFFixtures(t *testing.T) {
	const tol = 1e-4 // float32 against the float64 reference, as transformer/hf's TestFixtures
	for _, name := range []string{"gpt_neo_tiny", "qwen2_tiny_bf16", "mistral_tiny"} {
		dir := hfFixture(name)
		var exp struct {
			Tokens [][]int       `json:"tokens"`
			Logits [][][]float64 `json:"logits"`
		}
		b, err := os.ReadFile(filepath.Join(dir, "expected.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &exp); err != nil {
			t.Fatal(err)
		}
		toks := filepath.Join(t.TempDir(), "tokens.json")
		tb, _ := json.Marshal(exp.Tokens)
		if err := os.WriteFile(toks, tb, 0o644); err != nil {
			t.Fatal(err)
		}
		out, _, err := runCLI(t, "eval", "--model", dir, "--tokens", toks, "--json")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var got struct {
			Logits [][][]float64 `json:"logits"`
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		worst := 0.0
		for b := range exp.Logits {
			for p := range exp.Logits[b] {
				for v, w := range exp.Logits[b][p] {
					worst = max(worst, math.Abs(got.Logits[b][p][v]-w))
				}
			}
		}
		if worst > tol {
			t.Errorf("%s: eval logits differ from the reference by %.3g", name, worst)
		}
		if name != "gpt_neo_tiny" {
			continue
		}
		for _, args := range [][]string{
			{"analyze", "--model", dir, "--tokens", toks, "--json"},
			{"lens", "--model", dir, "--tokens", toks, "--json"},
			{"patch", "--model", dir, "--clean", toks, "--corrupted", toks, "--what", "attn_out", "--metric", "prob", "--answer", "1", "--json"},
		} {
			if out, _, err := runCLI(t, args...); err != nil || !json.Valid([]byte(out)) {
				t.Errorf("%s: %v (output %.100q)", strings.Join(args, " "), err, out)
			}
		}
	}
}

// TestInspectUnconvertibleFolder: inspect still lists a Hugging Face
// folder Workbench cannot convert, and says why.
func TestInspectUnconvertibleFolder(t *testing.T) {
	dir := t.TempDir()
	weights, err := os.ReadFile(filepath.Join(hfFixture("gpt_neo_tiny"), "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := `{"model_type": "gpt_neo", "hidden_size": 16, "num_heads": 4, "num_layers": 4, "vocab_size": 40, "max_position_embeddings": 32, "attention_types": [[["global", "local"], 2]], "window_size": 3, "use_flash": true}`
	if os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o644) != nil || os.WriteFile(filepath.Join(dir, "model.safetensors"), weights, 0o644) != nil {
		t.Fatal("writing the folder failed")
	}
	out, _, err := runCLI(t, "inspect", dir)
	if err != nil || !strings.Contains(out, "cannot convert") || !strings.Contains(out, `"use_flash"`) || !strings.Contains(out, "tensors      56 (F32 56)") {
		t.Errorf("inspect: %v\n%s", err, out)
	}
	js, _, err := runCLI(t, "inspect", "--json", dir)
	var got struct {
		Config    json.RawMessage `json:"config"`
		ConfigErr string          `json:"config_error"`
	}
	if err != nil || json.Unmarshal([]byte(js), &got) != nil || string(got.Config) != "null" || !strings.Contains(got.ConfigErr, "use_flash") {
		t.Errorf("inspect --json: %v\n%s", err, js)
	}
}
