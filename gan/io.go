package gan

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/mechinterp/workbench/checkpoint"
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
func (m *Model) StateDict() []checkpoint.Tensor {
	var out []checkpoint.Tensor
	for _, p := range m.tensors() {
		for _, t := range p.List() {
			out = append(out, checkpoint.Tensor{Name: t.Name, Shape: t.Shape, Data: slices.Clone(t.Data)})
		}
	}
	return out
}

func (m *Model) tensors() []*Params { return []*Params{m.G.P, m.G.Buffers, m.D.P, m.D.Buffers} }

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
	want := map[string]bool{}
	var errs []error
	for _, p := range m.tensors() {
		for _, t := range p.List() {
			want[t.Name] = true
			info, ok := f.Info(t.Name)
			switch {
			case !ok:
				errs = append(errs, fmt.Errorf("missing tensor %q (shape %v)", t.Name, t.Shape))
			case !slices.Equal(info.Shape, t.Shape):
				errs = append(errs, fmt.Errorf("tensor %q: want shape %v, got %v", t.Name, t.Shape, info.Shape))
			default:
				if err := f.Float32Into(t.Data, t.Name, t.Shape); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	for _, info := range f.Tensors() {
		if !want[info.Name] && !strings.HasSuffix(info.Name, ".num_batches_tracked") && !strings.HasPrefix(info.Name, "optim/") {
			errs = append(errs, fmt.Errorf("unexpected tensor %q (shape %v) for this config", info.Name, info.Shape))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("gan: checkpoint does not match the config: %w", errors.Join(errs...))
	}
	return nil
}
