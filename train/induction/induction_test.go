package induction

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/mechinterp/workbench/checkpoint"
	"github.com/mechinterp/workbench/train"
)

func TestConfigValidate(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	for name, f := range map[string]func(*Config){
		"min repeat > L": func(c *Config) { c.MinRepeat = 30 },
		"zero batch":     func(c *Config) { c.Batch = 0 },
		"bad norm":       func(c *Config) { c.Normalization = "BN" },
		"lr":             func(c *Config) { c.LR = 0 },
		"workers":        func(c *Config) { c.Workers = 0 },
	} {
		c := Default()
		f(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestShortRunResumesExactly trains briefly, interrupts, resumes, and
// checks the final checkpoint bytes equal an uninterrupted run's.
func TestShortRunResumesExactly(t *testing.T) {
	cfg := Default()
	cfg.Steps, cfg.EvalEvery, cfg.EvalSize, cfg.Batch = 40, 10, 16, 16
	full := t.TempDir()
	if _, err := Train(context.Background(), cfg, full, Options{}); err != nil {
		t.Fatal(err)
	}
	part := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var got Result
	n := 0
	r, err := Train(ctx, cfg, part, Options{Listeners: []func(train.Record){func(rec train.Record) {
		if n++; rec["step"].(int) >= 20 {
			cancel()
		}
	}}})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Interrupted || r.Steps >= 40 {
		t.Fatalf("run was not interrupted: %+v", r)
	}
	got, err = Train(context.Background(), cfg, part, Options{Resume: true})
	if err != nil {
		t.Fatal(err)
	}
	a, err := os.ReadFile(filepath.Join(full, "checkpoints", "step-000040.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(got.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	if string(a) != string(b) {
		t.Error("resumed run's final checkpoint differs from the uninterrupted run's")
	}
	// Worker count does not change the result.
	cfg.Workers = 1
	one := t.TempDir()
	r1, err := Train(context.Background(), cfg, one, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The metadata records the worker count; the tensors must not differ.
	fa, err := checkpoint.Parse(a)
	if err != nil {
		t.Fatal(err)
	}
	fc, err := checkpoint.Open(r1.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer fc.Close()
	for _, info := range fa.Tensors() {
		x, _, _ := fa.Float32(info.Name)
		y, _, err := fc.Float32(info.Name)
		if err != nil {
			t.Fatal(err)
		}
		for i := range x {
			if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
				t.Fatalf("1 worker vs 2: tensor %s differs at %d", info.Name, i)
			}
		}
	}
}
