package gan

import (
	"fmt"
	"strings"

	"github.com/mechinterp/workbench/checkpoint"
	"github.com/mechinterp/workbench/nn"
)

// ConfigMetadataKey is the safetensors __metadata__ key under which
// checkpoints carry the model config as JSON.
const ConfigMetadataKey = "gan_config"

// Save writes the model to path as safetensors (the state dict of
// StateDict) with the config as JSON under __metadata__["gan_config"],
// atomically (temporary file and rename). Extra metadata entries, if any,
// are added.
func (m *Model) Save(path string, extra map[string]string) error {
	return checkpoint.WriteFile(path, m.StateDict(), m.metadata(extra))
}

func (m *Model) metadata(extra map[string]string) map[string]string {
	meta := map[string]string{ConfigMetadataKey: string(m.Cfg.JSON())}
	for k, v := range extra {
		if k != ConfigMetadataKey {
			meta[k] = v
		}
	}
	return meta
}

// StateDict returns every parameter and running statistic of G and then D
// as a PyTorch-named tensor (copies; see Params for the names).
func (m *Model) StateDict() []checkpoint.Tensor { return nn.StateDict(m.tensors()...) }

func (m *Model) tensors() []*nn.Params {
	return []*nn.Params{&m.G.P.Params, &m.G.Buffers.Params, &m.D.P.Params, &m.D.Buffers.Params}
}

// Load reads a model from a safetensors checkpoint written by Save or by
// Train (the config comes from its metadata; optimizer state is ignored).
func Load(path string) (*Model, error) {
	f, err := checkpoint.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s, ok := f.Metadata[ConfigMetadataKey]
	if !ok {
		return nil, fmt.Errorf("gan: %s has no %q metadata: not a GAN checkpoint", path, ConfigMetadataKey)
	}
	cfg, err := ParseConfig([]byte(s))
	if err != nil {
		return nil, err
	}
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
// with those in f; views of them stay valid. Missing, extra or mis-shaped
// tensors are errors naming the tensor; PyTorch's "*.num_batches_tracked"
// counters and training checkpoints' "optim/*" entries are ignored. On
// error m may be partly overwritten.
func (m *Model) LoadStateDict(f *checkpoint.File) error {
	if err := nn.LoadStateDict(f, ignoredEntry, m.tensors()...); err != nil {
		return fmt.Errorf("gan: checkpoint does not match the config: %w", err)
	}
	return nil
}

// ignoredEntry reports whether a checkpoint entry is one a model does not
// hold: PyTorch's BatchNorm step counters and training checkpoints'
// optimizer state.
func ignoredEntry(name string) bool {
	return strings.HasSuffix(name, ".num_batches_tracked") || strings.HasPrefix(name, "optim/")
}
