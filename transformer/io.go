package transformer

import (
	"fmt"
	"os"
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

// Load reads a model from a safetensors checkpoint. The config comes from
// configPath if it is not empty, else from the file's __metadata__["config"].
// Missing, extra or mis-shaped tensors are errors naming the tensor.
func Load(path, configPath string) (*Model, error) {
	f, err := checkpoint.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var cfgJSON []byte
	switch {
	case configPath != "":
		if cfgJSON, err = os.ReadFile(configPath); err != nil {
			return nil, fmt.Errorf("transformer: %w", err)
		}
	case f.Metadata[ConfigMetadataKey] != "":
		cfgJSON = []byte(f.Metadata[ConfigMetadataKey])
	default:
		return nil, fmt.Errorf("transformer: %s has no config in its metadata; pass a config JSON file (--config)", path)
	}
	cfg, err := ParseConfig(cfgJSON)
	if err != nil {
		return nil, err
	}
	return FromCheckpoint(f, cfg)
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
