package sae

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestSaveLoad round-trips each architecture through SAELens's layout and
// checks the names and shapes a SAELens user would load.
func TestSaveLoad(t *testing.T) {
	for _, c := range []Config{
		{DIn: 6, DSAE: 10, Activation: ReLU, HookName: "blocks.0.hook_resid_post"},
		{DIn: 6, DSAE: 10, Activation: TopK, K: 3},
		{DIn: 6, DSAE: 10, Activation: JumpReLU},
		{DIn: 6, DSAE: 10, Activation: BatchTopK, K: 2, Transcoder: true, HookName: "blocks.0.ln2.hook_normalized", HookNameOut: "blocks.0.hook_mlp_out"},
	} {
		s, err := New(c, 3)
		if err != nil {
			t.Fatal(err)
		}
		s.BEnc[2], s.BDec[1] = 0.5, -0.25
		dir := t.TempDir()
		if err := s.Save(dir, map[string]any{"model_name": "demo"}); err != nil {
			t.Fatal(err)
		}
		got, err := Load(dir)
		if err != nil {
			t.Fatalf("%s: %v", c.Activation, err)
		}
		if got.Cfg != s.Cfg || !slices.Equal(got.WEnc, s.WEnc) || !slices.Equal(got.WDec, s.WDec) ||
			!slices.Equal(got.BEnc, s.BEnc) || !slices.Equal(got.BDec, s.BDec) || !slices.Equal(got.Threshold, s.Threshold) {
			t.Errorf("%s: the loaded dictionary differs", c.Activation)
		}
		b, _ := os.ReadFile(filepath.Join(dir, ConfigFile))
		var cfg map[string]any
		if err := json.Unmarshal(b, &cfg); err != nil {
			t.Fatal(err)
		}
		if cfg["architecture"] != saeLensArch[c.Activation] || cfg["d_in"] != 6.0 || cfg["d_sae"] != 10.0 {
			t.Errorf("%s: cfg.json %s", c.Activation, b)
		}
	}
}

// TestLoadRefuses checks that a cfg.json asking for what this package does
// not compute is refused with the field named.
func TestLoadRefuses(t *testing.T) {
	s, _ := New(Config{DIn: 4, DSAE: 8, Activation: ReLU}, 1)
	for _, tc := range []struct{ field, value, want string }{
		{"normalize_activations", `"expected_average_only_in"`, "normalize_activations"},
		{"architecture", `"gated"`, "gated"},
		{"apply_b_dec_to_input", `false`, "apply_b_dec_to_input"},
		{"frobnicate", `1`, "frobnicate"},
		{"d_sae", `9`, "W_enc"},
	} {
		dir := t.TempDir()
		if err := s.Save(dir, nil); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, ConfigFile)
		b, _ := os.ReadFile(p)
		var cfg map[string]json.RawMessage
		json.Unmarshal(b, &cfg)
		cfg[tc.field] = json.RawMessage(tc.value)
		b, _ = json.Marshal(cfg)
		os.WriteFile(p, b, 0o644)
		if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s = %s: error %v, want one naming %q", tc.field, tc.value, err, tc.want)
		}
	}
}
