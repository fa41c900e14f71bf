package transformer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadRunFolder checks that Load takes a run folder (new layout with
// train.json, and the old one whose config.json is the training config),
// and that a training config passed as a model config is refused with an
// error that says what it is.
func TestLoadRunFolder(t *testing.T) {
	m, err := New(variants()["attn_only"])
	if err != nil {
		t.Fatal(err)
	}
	randomize(m, 7)
	// What train/induction writes beside the model: its training config.
	trainCfg := []byte(`{"n_layers": 2, "d_model": 12, "n_heads": 3, "d_head": 4, "d_vocab": 11, "seq_len": 4, "batch": 8, "steps": 10, "lr": 0.001}`)
	for _, name := range []string{"train.json", "config.json"} {
		dir := t.TempDir()
		if err := m.Save(filepath.Join(dir, ModelFile), nil); err != nil {
			t.Fatal(err)
		}
		cfgPath := filepath.Join(dir, name)
		if err := os.WriteFile(cfgPath, trainCfg, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := Load(dir)
		if err != nil {
			t.Fatalf("Load(run folder with %s): %v", name, err)
		}
		if got.Cfg != m.Cfg {
			t.Errorf("Load(run folder with %s): config %+v, want %+v", name, got.Cfg, m.Cfg)
		}
		for i := range m.P.data {
			if got.P.data[i] != m.P.data[i] {
				t.Fatalf("Load(run folder with %s): parameter %d differs", name, i)
			}
		}
		_, err = LoadWithConfig(dir, cfgPath)
		if err == nil || !strings.Contains(err.Error(), "is a training config") {
			t.Errorf("LoadWithConfig(run folder, its %s) = %v, want an error naming it a training config", name, err)
		}
	}
	empty := t.TempDir()
	if _, err := Load(empty); err == nil || !strings.Contains(err.Error(), ModelFile) {
		t.Errorf("Load(folder without a model) = %v, want an error naming %s", err, ModelFile)
	}
}
