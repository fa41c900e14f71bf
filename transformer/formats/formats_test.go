package formats

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/internal/testenv"
)

// TestDetectAndLoad opens one model of each format through the one entry
// point and refuses a config file for the formats that carry their own.
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
