package cnn

import (
	"fmt"
	"strings"

	"github.com/mechinterp/workbench/checkpoint"
	"github.com/mechinterp/workbench/nn"
)

// ConfigMetadataKey is the safetensors __metadata__ key under which
// checkpoints carry the model config as JSON.
const ConfigMetadataKey = "cnn_config"

// Save writes the model to path as safetensors with PyTorch state-dict names
// and shapes (parameters and BatchNorm running statistics) and the config as
// JSON under __metadata__["cnn_config"], atomically (temporary file and
// rename). Extra metadata entries, if any, are added.
func (m *Model) Save(path string, extra map[string]string) error {
	meta := map[string]string{ConfigMetadataKey: string(m.Cfg.JSON())}
	for k, v := range extra {
		if k != ConfigMetadataKey {
			meta[k] = v
		}
	}
	return checkpoint.WriteFile(path, m.StateDict(), meta)
}

// StateDict returns every parameter and running statistic as a PyTorch-named
// tensor (copies), parameters first, each group in layout order.
func (m *Model) StateDict() []checkpoint.Tensor { return nn.StateDict(&m.P.Params, &m.Buffers.Params) }

// Load reads a model from a safetensors checkpoint written by Save (the
// config comes from its metadata).
func Load(path string) (*Model, error) {
	f, err := checkpoint.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s, ok := f.Metadata[ConfigMetadataKey]
	if !ok {
		return nil, fmt.Errorf("cnn: %s has no %q metadata: not a CNN checkpoint", path, ConfigMetadataKey)
	}
	cfg, err := ParseConfig([]byte(s))
	if err != nil {
		return nil, err
	}
	return FromCheckpoint(f, cfg)
}

// FromCheckpoint builds a model of config cfg from an open safetensors file
// holding its state dict. Tensors of any float dtype are converted to
// float32.
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

// LoadStateDict overwrites m's parameters and running statistics in place
// with those in f; views of m.P and m.Buffers stay valid. Missing, extra or
// mis-shaped tensors are errors naming the tensor; PyTorch's
// "*.num_batches_tracked" counters and training checkpoints' "optim/*"
// entries are ignored. On error m may be partly overwritten.
func (m *Model) LoadStateDict(f *checkpoint.File) error {
	if err := nn.LoadStateDict(f, ignoredEntry, &m.P.Params, &m.Buffers.Params); err != nil {
		return fmt.Errorf("cnn: checkpoint does not match the config: %w", err)
	}
	return nil
}

// ignoredEntry reports whether a checkpoint entry is one a model does not
// hold: PyTorch's BatchNorm step counters and training checkpoints'
// optimizer state.
func ignoredEntry(name string) bool {
	return strings.HasSuffix(name, ".num_batches_tracked") || strings.HasPrefix(name, "optim/")
}
