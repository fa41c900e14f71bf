package transformer

import (
	"strings"
	"testing"
)

// strictBase is a valid config with an MLP and d_head 16 (√d_head = 4).
const strictBase = `"n_layers": 1, "d_model": 32, "n_heads": 2, "d_head": 16, "d_mlp": 64, "d_vocab": 10, "n_ctx": 8, "act_fn": "gelu_new", "normalization_type": "LN"`

func TestParseConfigRefusesFieldsThatChangeTheComputation(t *testing.T) {
	for _, tc := range []struct{ field, value string }{
		{"final_rms", "true"},
		{"post_embedding_ln", "true"},
		{"use_NTK_by_parts_rope", "true"},
		{"use_normalization_before_and_after", "true"},
		{"use_qk_norm", "true"},
		{"load_in_4bit", "true"},
		{"attention_dir", `"bidirectional"`},
		{"output_logits_soft_cap", "30"},
		{"attn_scores_soft_cap", "50"},
		{"num_experts", "4"},
		{"experts_per_token", "2"},
		{"relative_attention_max_distance", "128"},
		{"relative_attention_num_buckets", "32"},
		{"use_qk_norm", `"false"`}, // wrong type is refused too
		{"no_such_field", "1"},
		{"N_Layers", "1"}, // keys match exactly, not case-insensitively
	} {
		js := "{" + strictBase + `, "` + tc.field + `": ` + tc.value + "}"
		_, err := ParseConfig([]byte(js))
		if err == nil {
			t.Errorf("%s: %s: accepted, want an error naming the field", tc.field, tc.value)
			continue
		}
		if !strings.Contains(err.Error(), `"`+tc.field+`"`) || !strings.HasPrefix(err.Error(), "transformer: ") {
			t.Errorf("%s: %s: error %q does not name the field", tc.field, tc.value, err)
		}
	}
}

func TestParseConfigAcceptsNoOpFields(t *testing.T) {
	want, err := ParseConfig([]byte("{" + strictBase + "}"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ field, value string }{
		{"parallel_attn_mlp", "false"},
		{"use_attn_scale", "true"},
		{"scale_attn_by_inverse_layer_idx", "false"},
		{"gated_mlp", "false"},
		{"gated_mlp", "null"},
		{"rotary_dim", "null"},
		{"final_rms", "false"},
		{"use_local_attn", "false"},
		{"post_embedding_ln", "false"},
		{"rotary_adjacent_pairs", "false"},
		{"use_NTK_by_parts_rope", "false"},
		{"use_normalization_before_and_after", "false"},
		{"use_qk_norm", "false"},
		{"load_in_4bit", "false"},
		{"attn_scale", "4.0"},
		{"attention_dir", `"causal"`},
		{"n_key_value_heads", "2"},
		{"n_key_value_heads", "null"},
		{"output_logits_soft_cap", "-1.0"},
		{"attn_scores_soft_cap", "-1.0"},
		{"attn_types", "null"},
		{"window_size", "null"},
		{"num_experts", "null"},
		{"experts_per_token", "null"},
		{"relative_attention_max_distance", "null"},
		{"relative_attention_num_buckets", "null"},
		{"positional_embedding_type", `"standard"`},
		{"rotary_base", "10000"},
		{"ungroup_grouped_query_attention", "false"},
		{"rotary_dim", "0"},
		{"model_name", `"gpt2"`},
		{"original_architecture", `"GPT2LMHeadModel"`},
		{"tokenizer_name", `"gpt2"`},
		{"default_prepend_bos", "true"},
		{"device", `"cpu"`},
		{"n_devices", "1"},
		{"dtype", `"torch.float32"`},
		{"n_params", "12345"},
		{"use_attn_result", "true"},
		{"use_split_qkv_input", "false"},
		{"use_hook_mlp_in", "true"},
		{"use_attn_in", "false"},
		{"use_hook_tokens", "false"},
		{"init_weights", "true"},
		{"init_mode", `"gpt2"`},
		{"initializer_range", "-1.0"}, // TransformerLens's "default" value
	} {
		js := "{" + strictBase + `, "` + tc.field + `": ` + tc.value + "}"
		got, err := ParseConfig([]byte(js))
		if err != nil {
			t.Errorf("%s: %s: %v", tc.field, tc.value, err)
			continue
		}
		if got != want {
			t.Errorf("%s: %s: config %+v, want %+v", tc.field, tc.value, got, want)
		}
	}
}

// TestParseConfigReadsItsOwnJSON: every field Config.JSON writes is one
// ParseConfig accepts.
func TestParseConfigReadsItsOwnJSON(t *testing.T) {
	c, err := ParseConfig([]byte("{" + strictBase + `, "seed": 7, "tied_embeddings": true}`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseConfig(c.JSON())
	if err != nil {
		t.Fatalf("%s: %v", c.JSON(), err)
	}
	if got != c {
		t.Errorf("got %+v, want %+v", got, c)
	}
}

func TestParseConfigNamesEveryRefusedField(t *testing.T) {
	js := "{" + strictBase + `, "use_qk_norm": true, "zzz": 1, "post_embedding_ln": true}`
	_, err := ParseConfig([]byte(js))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, f := range []string{"use_qk_norm", "zzz", "post_embedding_ln"} {
		if !strings.Contains(err.Error(), `"`+f+`"`) {
			t.Errorf("error %q does not name %s", err, f)
		}
	}
}

// TestParseConfigLlamaFields: the Llama-family fields are read, defaulted
// and validated, with errors naming the field.
func TestParseConfigLlamaFields(t *testing.T) {
	c, err := ParseConfig([]byte("{" + strictBase + `, "positional_embedding_type": "rotary", "n_key_value_heads": 1, "gated_mlp": true, "act_fn": "silu", "ungroup_grouped_query_attention": false}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.RotaryDim != 16 || c.RotaryBase != 10000 || c.NKeyValueHeads != 1 || !c.GatedMLP || c.ActFn != ActSiLU {
		t.Errorf("got %+v", c)
	}
	for _, tc := range []struct{ extra, field string }{
		{`"rotary_dim": 8`, "rotary_dim"}, // without rotary embeddings
		{`"positional_embedding_type": "rotary", "rotary_dim": 7`, "rotary_dim"},
		{`"positional_embedding_type": "rotary", "rotary_dim": 18`, "rotary_dim"},
		{`"n_key_value_heads": 3`, "n_key_value_heads"},
		{`"gated_mlp": true, "attn_only": true`, "gated_mlp"},
		{`"parallel_attn_mlp": true, "attn_only": true`, "parallel_attn_mlp"},
		{`"ungroup_grouped_query_attention": true`, "ungroup_grouped_query_attention"},
		{`"act_fn": "swish"`, "act_fn"},
		{`"rotary_adjacent_pairs": true`, "rotary_adjacent_pairs"}, // without rotary embeddings
	} {
		_, err := ParseConfig([]byte("{" + strictBase + ", " + tc.extra + "}"))
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: error %v, want one naming %s", tc.extra, err, tc.field)
		}
	}
}

// TestParseConfigAmbiguousDefaults: a config without normalization_type
// is refused (TransformerLens would read LN where Workbench reads none),
// and gelu_pytorch_tanh and gelu_fast, Hugging Face's names for the tanh
// GELU, parse as gelu_new.
func TestParseConfigAmbiguousDefaults(t *testing.T) {
	noNorm := strings.Replace("{"+strictBase+"}", `, "normalization_type": "LN"`, "", 1)
	if _, err := ParseConfig([]byte(noNorm)); err == nil || !strings.Contains(err.Error(), "normalization_type is missing") {
		t.Errorf("config without normalization_type: %v", err)
	}
	for _, alias := range []string{"gelu_pytorch_tanh", "gelu_fast"} {
		c, err := ParseConfig([]byte(strings.Replace("{"+strictBase+"}", `"gelu_new"`, `"`+alias+`"`, 1)))
		if err != nil {
			t.Fatalf("%s: %v", alias, err)
		}
		if c.ActFn != ActGELUNew {
			t.Errorf("%s parsed as %q, want %q", alias, c.ActFn, ActGELUNew)
		}
	}
}
