package sae

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mechinterp/workbench/checkpoint"
)

// The files of a saved dictionary, as SAELens names them.
const (
	ConfigFile  = "cfg.json"
	WeightsFile = "sae_weights.safetensors"
)

// saeLensArch maps our activation names to SAELens's "architecture".
var saeLensArch = map[string]string{ReLU: "standard", TopK: "topk", BatchTopK: "batchtopk", JumpReLU: "jumprelu"}

// Save writes s into dir (created if needed) as SAELens does: cfg.json and
// sae_weights.safetensors holding W_enc [d_in, d_sae], b_enc [d_sae],
// W_dec [d_sae, d_in], b_dec [d_in] and, for JumpReLU, threshold [d_sae].
// extra adds fields to cfg.json (a model name, training statistics); a
// field that would contradict the dictionary's own is an error.
func (s *SAE) Save(dir string, extra map[string]any) error {
	c := s.Cfg
	cfg := map[string]any{
		"architecture": saeLensArch[c.Activation], "d_in": c.DIn, "d_sae": c.DSAE, "dtype": "float32",
		"apply_b_dec_to_input": !c.Transcoder, "normalize_activations": "none",
	}
	if c.K > 0 {
		cfg["k"] = c.K
	}
	if c.HookName != "" {
		cfg["hook_name"] = c.HookName
	}
	if c.Transcoder {
		cfg["hook_name_out"] = c.HookNameOut
		cfg["transcoder"] = true
	}
	for k, v := range extra {
		if _, ok := cfg[k]; ok {
			return fmt.Errorf("sae: save: extra field %q would overwrite the dictionary's own", k)
		}
		cfg[k] = v
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fmt.Errorf("sae: save: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("sae: save: %w", err)
	}
	tensors := []checkpoint.Tensor{
		{Name: "W_enc", Shape: []int{c.DIn, c.DSAE}, Data: s.WEnc},
		{Name: "b_enc", Shape: []int{c.DSAE}, Data: s.BEnc},
		{Name: "W_dec", Shape: []int{c.DSAE, c.DIn}, Data: s.WDec},
		{Name: "b_dec", Shape: []int{c.DIn}, Data: s.BDec},
	}
	if s.Threshold != nil {
		tensors = append(tensors, checkpoint.Tensor{Name: "threshold", Shape: []int{c.DSAE}, Data: s.Threshold})
	}
	if err := checkpoint.WriteFile(filepath.Join(dir, WeightsFile), tensors, nil); err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, ConfigFile), append(b, '\n'))
}

// writeAtomic writes b to path through a temporary file and a rename.
func writeAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("sae: %w", err)
	}
	if _, err := tmp.Write(b); err != nil || tmp.Chmod(0o644) != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("sae: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("sae: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("sae: %w", err)
	}
	return nil
}

// ignoredFields are SAELens cfg.json fields that describe how a dictionary
// was made or where it came from, not what it computes.
var ignoredFields = []string{"model_name", "hook_layer", "hook_head_index", "context_size", "dataset_path",
	"dataset_trust_remote_code", "prepend_bos", "sae_lens_version", "sae_lens_training_version", "model_from_pretrained_kwargs",
	"seqpos_slice", "device", "neuronpedia_id", "model_class_name", "metadata", "activation_fn_kwargs", "finetuning_scaling_factor",
	"exclude_special_tokens", "reshape_activations", "l0", "fvu", "ce_loss_recovered", "dead_fraction", "steps", "seed"}

// Load reads a dictionary saved by Save or by SAELens: cfg.json and
// sae_weights.safetensors (F32, F16 or BF16). Fields that would change
// what the dictionary computes and that this package does not implement
// (normalize_activations other than "none", a gated architecture, dtype
// conversions on the fly) are refused with an error naming them, as are
// unknown fields.
func Load(dir string) (*SAE, error) {
	b, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, fmt.Errorf("sae: %w", err)
	}
	c, err := parseConfig(b, filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, err
	}
	f, err := checkpoint.Open(filepath.Join(dir, WeightsFile))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return fromCheckpoint(c, f)
}

// Parse is Load from the contents of cfg.json and
// sae_weights.safetensors (an embedded dictionary).
func Parse(cfg, weights []byte) (*SAE, error) {
	c, err := parseConfig(cfg, ConfigFile)
	if err != nil {
		return nil, err
	}
	f, err := checkpoint.Parse(weights)
	if err != nil {
		return nil, err
	}
	return fromCheckpoint(c, f)
}

// parseConfig reads and validates cfg.json's contents b (from where).
func parseConfig(b []byte, where string) (Config, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return Config{}, fmt.Errorf("sae: %s: %w", where, err)
	}
	var c Config
	var errs []error
	str := func(k string) string {
		var v string
		if m, ok := raw[k]; ok && json.Unmarshal(m, &v) != nil {
			errs = append(errs, fmt.Errorf("field %q is not a string", k))
		}
		return v
	}
	num := func(k string) int {
		var v int
		if m, ok := raw[k]; ok && json.Unmarshal(m, &v) != nil {
			errs = append(errs, fmt.Errorf("field %q is not an integer", k))
		}
		return v
	}
	arch := str("architecture")
	for ours, theirs := range saeLensArch {
		if arch == theirs {
			c.Activation = ours
		}
	}
	if c.Activation == "" {
		errs = append(errs, fmt.Errorf("architecture %q is not implemented (standard, topk, batchtopk, jumprelu)", arch))
	}
	c.DIn, c.DSAE, c.K = num("d_in"), num("d_sae"), num("k")
	c.HookName, c.HookNameOut = str("hook_name"), str("hook_name_out")
	if m, ok := raw["transcoder"]; ok && json.Unmarshal(m, &c.Transcoder) != nil {
		errs = append(errs, fmt.Errorf("field %q is not a boolean", "transcoder"))
	}
	if m, ok := raw["apply_b_dec_to_input"]; ok {
		var v bool
		if json.Unmarshal(m, &v) != nil || v == c.Transcoder {
			errs = append(errs, fmt.Errorf("apply_b_dec_to_input %s is not implemented for this dictionary (true for an SAE, false for a transcoder)", m))
		}
	}
	if v := str("normalize_activations"); v != "" && v != "none" {
		errs = append(errs, fmt.Errorf("normalize_activations %q is not implemented (only \"none\")", v))
	}
	if v := str("dtype"); v != "" && !slices.Contains([]string{"float32", "torch.float32", "float16", "torch.float16", "bfloat16", "torch.bfloat16"}, v) {
		errs = append(errs, fmt.Errorf("dtype %q is not implemented", v))
	}
	known := append([]string{"architecture", "d_in", "d_sae", "k", "hook_name", "hook_name_out", "transcoder", "apply_b_dec_to_input",
		"normalize_activations", "dtype"}, ignoredFields...)
	var unknown []string
	for k := range raw {
		if !slices.Contains(known, k) {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	if len(unknown) > 0 {
		errs = append(errs, fmt.Errorf("unknown fields %s", strings.Join(unknown, ", ")))
	}
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("sae: %s: %w", where, errors.Join(errs...))
	}
	return c, c.Validate()
}

// fromCheckpoint reads a dictionary of config c from its weights.
func fromCheckpoint(c Config, f *checkpoint.File) (*SAE, error) {
	s := &SAE{Cfg: c, WEnc: make([]float32, c.DIn*c.DSAE), BEnc: make([]float32, c.DSAE),
		WDec: make([]float32, c.DSAE*c.DIn), BDec: make([]float32, c.DIn)}
	want := []struct {
		name  string
		dst   []float32
		shape []int
	}{{"W_enc", s.WEnc, []int{c.DIn, c.DSAE}}, {"b_enc", s.BEnc, []int{c.DSAE}}, {"W_dec", s.WDec, []int{c.DSAE, c.DIn}}, {"b_dec", s.BDec, []int{c.DIn}}}
	if c.Activation == JumpReLU {
		s.Threshold = make([]float32, c.DSAE)
		want = append(want, struct {
			name  string
			dst   []float32
			shape []int
		}{"threshold", s.Threshold, []int{c.DSAE}})
	}
	names := map[string]bool{}
	for _, w := range want {
		names[w.name] = true
		if err := f.Float32Into(w.dst, w.name, w.shape); err != nil {
			return nil, err
		}
	}
	for _, t := range f.Tensors() {
		if !names[t.Name] {
			return nil, fmt.Errorf("sae: %s holds tensor %q, which a %s dictionary does not have", WeightsFile, t.Name, saeLensArch[c.Activation])
		}
	}
	return s, nil
}
