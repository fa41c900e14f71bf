package transformer

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// A config file may hold, besides Config's own fields, fields that
// TransformerLens configs carry (HookedTransformerConfig.to_dict writes
// them all). Each such field is accepted only where its value is what
// Workbench computes anyway, refused with an error naming it where the
// value would change the computation, and a key that is neither is refused
// as unknown: a config never changes what it means by being read here.

// fieldCheck reports why a field's decoded JSON value v (bool, float64,
// string, []any, map[string]any; never nil: JSON null always means the
// default, which is the no-op) is not what c computes, or nil.
type fieldCheck func(v any, c Config) error

// noOpFields returns the TransformerLens fields Workbench does not
// implement, with the values at which they leave the computation unchanged.
func noOpFields() map[string]fieldCheck {
	return map[string]fieldCheck{
		// Architecture Workbench does not implement: only the "off" value.
		"final_rms":                          wantFinalRMS,
		"post_embedding_ln":                  wantBool(false),
		"use_NTK_by_parts_rope":              wantBool(false),
		"use_normalization_before_and_after": wantBool(false),
		"use_qk_norm":                        wantBool(false),
		"load_in_4bit":                       wantBool(false),
		"use_attn_scale":                     anyBool, // read by readUseAttnScale
		"attention_dir":                      wantString("causal"),
		"output_logits_soft_cap":             wantNonPositive,
		"attn_scores_soft_cap":               wantNonPositive,
		"num_experts":                        wantNull,
		"experts_per_token":                  wantNull,
		"relative_attention_max_distance":    wantNull,
		"relative_attention_num_buckets":     wantNull,

		// NTK-by-parts settings act only with use_NTK_by_parts_rope (refused).
		"NTK_by_parts_low_freq_factor":    anyValue,
		"NTK_by_parts_high_freq_factor":   anyValue,
		"NTK_by_parts_factor":             anyValue,
		"NTK_original_ctx_len":            anyValue,
		"ungroup_grouped_query_attention": wantBool(false), // true changes hook_k/hook_v shapes

		// Names, provenance, devices and hook options: no effect on the numbers.
		"model_name":             anyValue,
		"original_architecture":  anyValue,
		"tokenizer_name":         anyValue,
		"tokenizer_prepends_bos": anyValue,
		"default_prepend_bos":    anyValue,
		"decoder_start_token_id": anyValue,
		"trust_remote_code":      anyValue,
		"device":                 anyValue,
		"n_devices":              anyValue,
		"dtype":                  anyValue,
		"n_params":               anyValue,
		"from_checkpoint":        anyValue,
		"checkpoint_index":       anyValue,
		"checkpoint_label_type":  anyValue,
		"checkpoint_value":       anyValue,
		"init_weights":           anyValue,
		"init_mode":              anyValue,
		"use_attn_result":        anyValue,
		"use_split_qkv_input":    anyValue,
		"use_hook_mlp_in":        anyValue,
		"use_attn_in":            anyValue,
		"use_hook_tokens":        anyValue,
	}
}

// checkFields refuses every key of the JSON object b that is neither a
// field of Config nor a field of noOpFields at a value c (b decoded, with
// defaults) computes anyway. Errors name the field, sorted by name.
func checkFields(b []byte, c Config) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return err
	}
	known, noOp := configKeys(), noOpFields()
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var errs []error
	for _, k := range keys {
		if slices.Contains(known, k) {
			continue
		}
		check, ok := noOp[k]
		if !ok {
			errs = append(errs, fmt.Errorf("unknown field %q", k))
			continue
		}
		var v any
		if err := json.Unmarshal(fields[k], &v); err != nil {
			errs = append(errs, fmt.Errorf("field %q: %w", k, err))
			continue
		}
		if v == nil {
			continue
		}
		if err := check(v, c); err != nil {
			errs = append(errs, fmt.Errorf("field %q: %w", k, err))
		}
	}
	return errors.Join(errs...)
}

// configKeys returns the JSON names of Config's fields.
func configKeys() []string {
	t := reflect.TypeFor[Config]()
	keys := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		keys = append(keys, name)
	}
	return keys
}

func anyValue(any, Config) error { return nil }

func wantNull(v any, _ Config) error {
	return fmt.Errorf("%s is not implemented (only null)", jsonText(v))
}

func wantBool(want bool) fieldCheck {
	return func(v any, _ Config) error {
		b, ok := v.(bool)
		switch {
		case !ok:
			return fmt.Errorf("want a boolean, got %s", jsonText(v))
		case b != want:
			return fmt.Errorf("%t is not implemented (only %t)", b, want)
		}
		return nil
	}
}

// wantFinalRMS accepts final_rms true where the final norm is RMS anyway.
func wantFinalRMS(v any, c Config) error {
	b, ok := v.(bool)
	switch {
	case !ok:
		return fmt.Errorf("want a boolean, got %s", jsonText(v))
	case b && c.NormalizationType != NormRMS && c.NormalizationType != NormRMSPre:
		return fmt.Errorf("true is not implemented with normalization_type %q (only false, or RMS norms)", c.NormalizationType)
	}
	return nil
}

func wantString(want string) fieldCheck {
	return func(v any, _ Config) error {
		if s, ok := v.(string); !ok || s != want {
			return fmt.Errorf("%s is not implemented (only %q)", jsonText(v), want)
		}
		return nil
	}
}

func wantNonPositive(v any, _ Config) error {
	if x, ok := v.(float64); !ok || x > 0 {
		return fmt.Errorf("%s is not implemented (only a value <= 0: no soft cap)", jsonText(v))
	}
	return nil
}

// jsonText returns v as JSON, for messages.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
