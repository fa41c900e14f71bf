package hf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const llamaBase = `"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 16, "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": 1, "intermediate_size": 24, "vocab_size": 11, "max_position_embeddings": 8`

// TestLlamaConfigRefusals: fields that change the computation and that
// are not implemented, and unknown fields, are refused by name before any
// weight is read.
func TestLlamaConfigRefusals(t *testing.T) {
	for _, tc := range []struct{ extra, field string }{
		{`"rope_scaling": {"type": "linear", "factor": 2.0}`, "rope_scaling"},
		{`"attention_bias": true`, "attention_bias"},
		{`"mlp_bias": true`, "mlp_bias"},
		{`"pretraining_tp": 2`, "pretraining_tp"},
		{`"hidden_act": "gelu"`, "hidden_act"},
		{`"head_dim": 8`, "head_dim"},
		{`"num_key_value_heads": 3`, "n_key_value_heads"},
		{`"sliding_window": 4`, "sliding_window"},
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, ConfigFile), []byte("{"+llamaBase+", "+tc.extra+"}"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(dir)
		if err == nil || !strings.Contains(err.Error(), tc.field) || !strings.HasPrefix(err.Error(), "hf: ") {
			t.Errorf("%s: error %v, want one naming %s", tc.extra, err, tc.field)
		}
	}
	// Accepted at the values that change nothing.
	c, err := llamaTLConfig([]byte("{" + llamaBase + `, "rope_scaling": null, "attention_bias": false, "mlp_bias": false, "pretraining_tp": 1, "attention_dropout": 0.0, "head_dim": 4, "rope_theta": 500000.0}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.NKeyValueHeads != 2 || c.DHead != 4 || c.RotaryDim != 4 || c.RotaryBase != 500000 || !c.GatedMLP || c.TiedEmbeddings {
		t.Errorf("config %+v", c)
	}
}

// TestNeoXConfigRefusals: gpt_neox fields that are not implemented, and
// unknown ones, are refused by name.
func TestNeoXConfigRefusals(t *testing.T) {
	const base = `"model_type": "gpt_neox", "hidden_size": 16, "num_attention_heads": 2, "num_hidden_layers": 1, "intermediate_size": 24, "vocab_size": 11, "max_position_embeddings": 8`
	for _, tc := range []struct{ extra, field string }{
		{`"rope_scaling": {"type": "linear", "factor": 2.0}`, "rope_scaling"},
		{`"attention_bias": false`, "attention_bias"},
		{`"rotary_pct": 0`, "rotary_pct"},
		{`"rotary_pct": 0.4`, "rotary_dim"}, // 3.2 dimensions: 3, odd
		{`"hidden_act": "swish"`, "hidden_act"},
		{`"use_flash": true`, "use_flash"},
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, ConfigFile), []byte("{"+base+", "+tc.extra+"}"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(dir)
		if err == nil || !strings.Contains(err.Error(), tc.field) || !strings.HasPrefix(err.Error(), "hf: ") {
			t.Errorf("%s: error %v, want one naming %s", tc.extra, err, tc.field)
		}
	}
	c, err := neoxTLConfig([]byte("{" + base + `, "use_parallel_residual": false, "rotary_pct": 0.5}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.ParallelAttnMLP || c.RotaryDim != 4 || c.ActFn != "gelu" {
		t.Errorf("config %+v", c)
	}
}
