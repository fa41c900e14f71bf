package transformer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mechinterp/workbench/checkpoint"
	"github.com/mechinterp/workbench/nn"
)

// ConfigMetadataKey is the safetensors __metadata__ key under which
// checkpoints carry the model config as JSON.
const ConfigMetadataKey = "config"

// Save writes the model to path as safetensors with TransformerLens
// state-dict names and shapes, the config as JSON under
// __metadata__["config"], atomically (temporary file and rename). Extra
// metadata entries, if any, are added.
func (m *Model) Save(path string, extra map[string]string) error {
	meta := map[string]string{ConfigMetadataKey: string(m.Cfg.JSON())}
	for k, v := range extra {
		if k != ConfigMetadataKey {
			meta[k] = v
		}
	}
	return checkpoint.WriteFile(path, m.StateDict(), meta)
}

// StateDict returns every parameter as a TransformerLens-named tensor in
// TransformerLens layout (copies).
func (m *Model) StateDict() []checkpoint.Tensor {
	return nn.StateDict(m.P.arena)
}

// ModelFile is the name of the final model inside a run folder: the
// weights with the model's own config in the safetensors metadata. The
// folder's train.json (config.json in folders written before it was
// renamed) is the training configuration, not a model config.
const ModelFile = "model.safetensors"

// Load reads a model from path: a safetensors checkpoint, or a run folder
// holding ModelFile. The config comes from the checkpoint's
// __metadata__["config"]; use LoadWithConfig for state dicts that carry no
// config. Run folders written before train.json (whose config.json is the
// training config) load the same way. Missing, extra or mis-shaped tensors
// are errors naming the tensor.
func Load(path string) (*Model, error) {
	path, err := modelPath(path)
	if err != nil {
		return nil, err
	}
	f, err := checkpoint.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	js := f.Metadata[ConfigMetadataKey]
	if js == "" {
		return nil, fmt.Errorf("transformer: %s has no config in its metadata; load it with LoadWithConfig and a model config JSON file (--config)", path)
	}
	cfg, err := ParseConfig([]byte(js))
	if err != nil {
		return nil, fmt.Errorf("transformer: %s: %w", path, err)
	}
	return FromCheckpoint(f, cfg)
}

// LoadWithConfig reads a model from path (a safetensors checkpoint or a
// run folder, as Load) with the model config in the JSON file configPath
// (TransformerLens field names), ignoring any config in the checkpoint's
// metadata. A training config (a run folder's train.json or config.json)
// is refused with an error saying so.
func LoadWithConfig(path, configPath string) (*Model, error) {
	path, err := modelPath(path)
	if err != nil {
		return nil, err
	}
	cfgJSON, err := os.ReadFile(configPath)
	if err != nil {
		return nil, fmt.Errorf("transformer: %w", err)
	}
	cfg, err := ParseConfig(cfgJSON)
	if err != nil {
		if isTrainingConfig(cfgJSON) {
			return nil, fmt.Errorf("transformer: %s is a training config, not a model config; the model's config is in %s's metadata: load it without a config file: %w", configPath, ModelFile, err)
		}
		return nil, fmt.Errorf("transformer: %s: %w", configPath, err)
	}
	f, err := checkpoint.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return FromCheckpoint(f, cfg)
}

// modelPath returns path, or path/ModelFile when path is a directory.
func modelPath(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("transformer: %w", err)
	}
	if !st.IsDir() {
		return path, nil
	}
	p := filepath.Join(path, ModelFile)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("transformer: %s is a folder without %s (is it a run folder whose training has not finished? its checkpoints are in checkpoints/): %w", path, ModelFile, err)
	}
	return p, nil
}

// isTrainingConfig reports whether b is a JSON object with fields that only
// a training configuration has (steps, a learning rate, a batch size).
func isTrainingConfig(b []byte) bool {
	var fields map[string]json.RawMessage
	if json.Unmarshal(b, &fields) != nil {
		return false
	}
	for _, k := range []string{"steps", "lr", "batch", "epochs"} {
		if _, ok := fields[k]; ok {
			return true
		}
	}
	return false
}

// FromCheckpoint builds a model of config cfg from an open safetensors file
// holding a TransformerLens state dict. Tensors of any float dtype are
// converted to float32. Buffers TransformerLens keeps in state dicts
// (attention masks, IGNORE) are ignored.
func FromCheckpoint(f *checkpoint.File, cfg Config) (*Model, error) {
	m, err := newZero(cfg)
	if err != nil {
		return nil, err
	}
	if err := m.LoadStateDict(f); err != nil {
		return nil, err
	}
	return m, nil
}

// FromParams builds a model of config cfg (completed with WithDefaults and
// validated) whose parameters fill writes, for converters of other formats:
// fill is called once per parameter, in storage order, with its
// TransformerLens name and shape and dst, zeroed, to fill in
// TransformerLens layout (row-major in shape; len(dst) is its size). Every
// parameter is tried; the errors fill returns are joined. Parameters are
// written in place, so a converter that reads one tensor at a time holds
// at most the model and one tensor's copies.
func FromParams(cfg Config, fill func(name string, shape []int, dst []float32) error) (*Model, error) {
	m, err := newZero(cfg)
	if err != nil {
		return nil, err
	}
	a := m.P.arena
	var errs []error
	var buf []float32
	for i := range a.Len() {
		s, dst := a.Spec(i), a.View(i)
		if s.Layout == nil {
			errs = append(errs, fill(s.Name, s.Shape, dst))
			continue
		}
		buf = slices.Grow(buf[:0], len(dst))[:len(dst)]
		clear(buf)
		errs = append(errs, fill(s.Name, s.Shape, buf))
		s.Layout.FromDict(dst, buf)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return m, nil
}

// LoadStateDict overwrites m's parameters in place with those in f (a
// TransformerLens state dict for m's config); views of m.P stay valid. On
// error m may be partly overwritten.
func (m *Model) LoadStateDict(f *checkpoint.File) error {
	ignored := func(name string) bool { return ignoredBuffer(name) || strings.HasPrefix(name, "optim/") }
	if err := nn.LoadStateDict(f, ignored, m.P.arena); err != nil {
		return fmt.Errorf("transformer: checkpoint does not match the config: %w", err)
	}
	return nil
}

// ignoredBuffer reports (entries under "optim/" are training checkpoints'
// optimizer state, also ignored) whether a state-dict entry is one of
// TransformerLens's non-parameter buffers.
func ignoredBuffer(name string) bool {
	return strings.HasSuffix(name, ".attn.mask") || strings.HasSuffix(name, ".attn.IGNORE")
}
