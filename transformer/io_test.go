package transformer

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/checkpoint"
)

func TestSaveLoadRoundTrip(t *testing.T) {
	for name, cfg := range variants() {
		m, _ := New(cfg)
		randomize(m, 30)
		path := filepath.Join(t.TempDir(), "m.safetensors")
		if err := m.Save(path, map[string]string{"note": "test"}); err != nil {
			t.Fatal(err)
		}
		got, err := Load(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.Cfg != m.Cfg {
			t.Errorf("%s: config %+v, want %+v", name, got.Cfg, m.Cfg)
		}
		for i := range m.P.data {
			if got.P.data[i] != m.P.data[i] {
				t.Fatalf("%s: parameter %d differs after round trip", name, i)
			}
		}
		toks := [][]int{{1, 2, 3}}
		a, _ := m.Run(context.Background(), toks, nil)
		b, _ := got.Run(context.Background(), toks, nil)
		for i := range a.Data {
			if a.Data[i] != b.Data[i] {
				t.Fatalf("%s: logits differ after round trip", name)
			}
		}
	}
}

func TestLoadMismatchNamesTensor(t *testing.T) {
	m, _ := New(variants()["attn_only"])
	sd := m.StateDict()
	dir := t.TempDir()
	write := func(ts []checkpoint.Tensor) string {
		p := filepath.Join(dir, "bad.safetensors")
		if err := checkpoint.WriteFile(p, ts, nil); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfgPath := filepath.Join(dir, "config.json")
	if err := os.WriteFile(cfgPath, m.Cfg.JSON(), 0o644); err != nil {
		t.Fatal(err)
	}
	var missing, extra, misshaped []checkpoint.Tensor
	for _, s := range sd {
		if s.Name != "blocks.1.attn.W_V" {
			missing = append(missing, s)
		}
		if s.Name == "blocks.0.attn.W_O" {
			s.Shape = []int{3, 2, 24}
		}
		misshaped = append(misshaped, s)
	}
	extra = append(append(extra, sd...), checkpoint.Tensor{Name: "blocks.0.mlp.W_in", Shape: []int{1}, Data: []float32{0}})
	for _, tc := range []struct {
		ts   []checkpoint.Tensor
		want string
	}{
		{missing, `missing tensor "blocks.1.attn.W_V"`},
		{extra, `unexpected tensor "blocks.0.mlp.W_in"`},
		{misshaped, `"blocks.0.attn.W_O": want shape [3 4 12], got [3 2 24]`},
	} {
		_, err := LoadWithConfig(write(tc.ts), cfgPath)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load error = %v, want one mentioning %s", err, tc.want)
		}
	}
	if _, err := Load(write(sd)); err == nil || !strings.Contains(err.Error(), "no config") {
		t.Errorf("Load without any config: %v", err)
	}
}
