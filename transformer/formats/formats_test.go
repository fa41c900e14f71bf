package formats

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/checkpoint"
	"github.com/mechinterp/workbench/internal/testenv"
	"github.com/mechinterp/workbench/transformer"
)

// TestDetectAndLoadOwnModels runs the detection on models the test
// writes: a TransformerLens-named safetensors file with its config in the
// metadata, a run folder holding one, a bare state dict with its config
// file, and files that are not models, which fail with an error saying what
// they look like.
func TestDetectAndLoadOwnModels(t *testing.T) {
	m, err := transformer.New(transformer.Config{NLayers: 1, DModel: 8, NHeads: 2, DHead: 4, DVocab: 11, NCtx: 6, AttnOnly: true, Seed: 2}.WithDefaults())
	if err != nil {
		t.Fatal(err)
	}
	run := t.TempDir()
	withConfig := filepath.Join(run, transformer.ModelFile)
	if err := m.Save(withConfig, nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bare, configFile := filepath.Join(dir, "bare.safetensors"), filepath.Join(dir, "config.json")
	if err := checkpoint.WriteFile(bare, m.StateDict(), nil); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(configFile, m.Cfg.JSON(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, config string }{{withConfig, ""}, {run, ""}, {bare, configFile}} {
		if got := Detect(tc.path); got != TransformerLens {
			t.Errorf("%s: detected %q, want %q", tc.path, got, TransformerLens)
		}
		got, err := Load(tc.path, tc.config)
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		if got.Cfg.NLayers != 1 || got.Cfg.DVocab != 11 {
			t.Errorf("%s: config %+v", tc.path, got.Cfg)
		}
	}
	for name, tc := range map[string]struct {
		content []byte
		want    string
	}{
		"torch.pt":          {append([]byte("PK\x03\x04\x14\x00\x00\x00"), make([]byte, 100)...), "zip archive"},
		"tokens.json":       {[]byte("[[1, 2, 3]]"), "JSON text"},
		"empty.safetensors": {nil, "empty"},
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, tc.content, 0o644)
		if _, err := Load(p, ""); err == nil || !strings.Contains(err.Error(), "not a safetensors file") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s as a model: %v, want \"not a safetensors file\" and %q", name, err, tc.want)
		}
	}
}

// TestDetectAndLoad opens one real model of each format through the one
// entry point (a Hugging Face folder, stories260K.bin, the parity fixture's
// bare state dict) and refuses a config file for the formats that carry
// their own.
func TestDetectAndLoad(t *testing.T) {
	hfDir := filepath.Join(testenv.SharedDir(t, "hf"), "llama_gqa_tiny")
	bin := filepath.Join(testenv.SharedDir(t, "llama2c"), "stories260K.bin")
	parity := testenv.ParityModel(t, "attn2_induction") // a bare state dict and its config file
	tl, tlConfig := filepath.Join(parity, "model.safetensors"), filepath.Join(parity, "config.json")
	for _, tc := range []struct{ path, config, format string }{{hfDir, "", HuggingFace}, {bin, "", Llama2C}, {tl, tlConfig, TransformerLens}} {
		if got := Detect(tc.path); got != tc.format {
			t.Errorf("%s: detected %q, want %q", tc.path, got, tc.format)
		}
		m, err := Load(tc.path, tc.config)
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		if m.Cfg.NLayers < 1 {
			t.Errorf("%s: %d layers", tc.path, m.Cfg.NLayers)
		}
	}
	for _, p := range []string{hfDir, bin} {
		if _, err := Load(p, "config.json"); err == nil || !strings.Contains(err.Error(), "holds its own") {
			t.Errorf("%s with a config file: %v", p, err)
		}
	}
}
