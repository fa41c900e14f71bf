package hf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mechinterp/workbench/transformer"
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
	c, err := llamaTLConfig("llama", []byte("{"+llamaBase+`, "rope_scaling": null, "attention_bias": false, "mlp_bias": false, "pretraining_tp": 1, "attention_dropout": 0.0, "head_dim": 4, "rope_theta": 500000.0}`))
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

// TestFamilyConfigs: the gpt_neo, qwen2 and mistral model types read their
// own fields and refuse, by name, what they do not implement; GPT-2's
// attention-scaling switches map to attn_scale and
// scale_attn_by_inverse_layer_idx.
func TestFamilyConfigs(t *testing.T) {
	const neo = `"model_type": "gpt_neo", "hidden_size": 16, "num_heads": 4, "num_layers": 2, "vocab_size": 11, "max_position_embeddings": 8, "attention_types": [[["global", "local"], 1]], "window_size": 3`
	qwen := strings.Replace(llamaBase, `"llama"`, `"qwen2"`, 1)
	mistral := strings.Replace(llamaBase, `"llama"`, `"mistral"`, 1)
	for _, tc := range []struct{ config, field string }{
		{neo + `, "attention_types": [[["global", "banded"], 1]]`, "banded"},
		{neo + `, "attention_types": [[["global"], 1]]`, "attention_types"},
		{neo + `, "attention_layers": ["local", "global"]`, "attention_layers"},
		{neo + `, "attention_types": [["global", 2]]`, "attention_types"},
		{neo + `, "window_size": 0`, "window_size"},
		{neo + `, "attention_types": [[["global", "local"], 60000], [["local"], 60000]]`, "more than 65536 layers"},
		{neo + `, "activation_function": "swish"`, "activation_function"},
		{neo + `, "rotary": true`, "rotary"},
		{qwen + `, "use_sliding_window": true`, "use_sliding_window"},
		{qwen + `, "layer_types": ["sliding_attention"]`, "layer_types"},
		{qwen + `, "attention_bias": true`, "attention_bias"}, // not a Qwen2Config field
		{mistral + `, "sliding_window": 0`, "sliding_window"},
		{mistral + `, "rope_scaling": {"type": "linear", "factor": 2.0}`, "rope_scaling"},
		{llamaBase + `, "rope_interleaved": true`, "rope_interleaved"},
		{llamaBase + `, "rope_parameters": {"rope_type": "llama3", "factor": 8.0, "rope_theta": 500000}`, "rope_parameters"},
		{llamaBase + `, "rope_theta": 1000, "rope_parameters": {"rope_theta": 500000}`, "rope_parameters.rope_theta"},
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, ConfigFile), []byte("{"+tc.config+"}"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(dir)
		if err == nil || !strings.Contains(err.Error(), tc.field) || !strings.HasPrefix(err.Error(), "hf: ") {
			t.Errorf("%s: error %v, want one naming %s", tc.config, err, tc.field)
		}
	}
	c, err := gptNeoTLConfig([]byte("{" + neo + `, "attention_layers": ["global", "local"], "intermediate_size": null}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.AttnScale != 1 || !c.UseLocalAttn || c.AttnTypes != "global,local" || c.WindowSize != 3 || c.DMLP != 64 || c.ActFn != "gelu_new" {
		t.Errorf("gpt_neo config %+v", c)
	}
	c, err = gptNeoTLConfig([]byte("{" + strings.Replace(neo, `"local"`, `"global"`, 1) + "}"))
	if err != nil || c.UseLocalAttn || c.AttnTypes != "" || c.WindowSize != 0 {
		t.Errorf("all-global gpt_neo: %+v, %v; want plain causal attention", c, err)
	}
	c, err = llamaTLConfig("qwen2", []byte("{"+qwen+`, "use_sliding_window": false, "sliding_window": 4096, "max_window_layers": 28, "layer_types": ["full_attention"]}`))
	if err != nil || c.UseLocalAttn {
		t.Errorf("qwen2: %+v, %v", c, err)
	}
	for window, local := range map[string]bool{"null": false, "8": false, "100": false, "7": true} {
		c, err := llamaTLConfig("mistral", []byte("{"+mistral+`, "sliding_window": `+window+"}"))
		if err != nil || c.UseLocalAttn != local || (local && (c.WindowSize != 7 || c.AttnTypes != "local")) {
			t.Errorf("mistral sliding_window %s (max_position_embeddings 8): %+v, %v; want local attention %t", window, c, err, local)
		}
	}
	// Rotary models keep n_ctx within transformer.MaxNCtx (W_pos is unused).
	c, err = llamaTLConfig("qwen2", []byte("{"+strings.Replace(qwen, `"max_position_embeddings": 8`, `"max_position_embeddings": 131072`, 1)+"}"))
	if err != nil || c.NCtx != transformer.MaxNCtx {
		t.Errorf("qwen2 with 131,072 positions: n_ctx %d, %v; want %d", c.NCtx, err, transformer.MaxNCtx)
	}
	// SmolLM2's nanotron export fields; transformers 5's rope_parameters.
	c, err = llamaTLConfig("llama", []byte("{"+llamaBase+`, "is_llama_config": true, "rope_interleaved": false, "rope_parameters": {"rope_theta": 100000, "rope_type": "default"}}`))
	if err != nil || c.RotaryBase != 100000 {
		t.Errorf("SmolLM2-style llama config: %+v, %v", c, err)
	}
	c, err = gpt2TLConfig([]byte(hfConfigJSON(true, `, "scale_attn_weights": false, "scale_attn_by_inverse_layer_idx": true`)))
	if err != nil || c.AttnScale != 1 || !c.ScaleAttnByInverseLayerIdx {
		t.Errorf("gpt2 without score scaling, by inverse layer index: %+v, %v", c, err)
	}
}
