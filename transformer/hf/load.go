package hf

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mechinterp/workbench/checkpoint"
	"github.com/mechinterp/workbench/transformer"
)

// File names inside a Hugging Face model folder.
const (
	ConfigFile  = "config.json"
	WeightsFile = "model.safetensors"
	IndexFile   = "model.safetensors.index.json" // sharded weights
	PickleFile  = "pytorch_model.bin"
)

// maxConfigBytes bounds the config.json read into memory.
const maxConfigBytes = 1 << 20

// IsFolder reports whether path is a Hugging Face model folder: a
// directory whose config.json is a JSON object with a "model_type" field.
// (Workbench run folders hold train.json, or in old ones a training
// config.json without model_type.)
func IsFolder(path string) bool {
	b, err := readConfig(path)
	if err != nil {
		return false
	}
	var head struct {
		ModelType *string `json:"model_type"`
	}
	return json.Unmarshal(b, &head) == nil && head.ModelType != nil
}

// Load reads the Hugging Face model folder dir into a transformer.Model
// with TransformerLens names and layout. config.json must name a supported
// model_type (ModelTypes); every field is read strictly (see the package
// documentation). Missing, extra and mis-shaped tensors are errors naming
// them.
func Load(dir string) (*transformer.Model, error) {
	_, cfg, convert, err := readModelConfig(dir)
	if err != nil {
		return nil, err
	}
	src, err := openSource(dir)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	return convert(src, cfg)
}

// converter builds the model of a config from a folder's tensors.
type converter func(src *source, cfg transformer.Config) (*transformer.Model, error)

// readModelConfig reads dir's config.json: its model_type, the
// transformer.Config it maps to and the converter of its tensors.
func readModelConfig(dir string) (string, transformer.Config, converter, error) {
	fail := func(err error) (string, transformer.Config, converter, error) {
		return "", transformer.Config{}, nil, err
	}
	b, err := readConfig(dir)
	if err != nil {
		return fail(err)
	}
	var head struct {
		ModelType string `json:"model_type"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return fail(fmt.Errorf("hf: %s: %w", filepath.Join(dir, ConfigFile), err))
	}
	var cfg transformer.Config
	var convert converter
	switch head.ModelType {
	case "gpt2":
		cfg, err = gpt2TLConfig(b)
		convert = gpt2Model
	case "gpt_neox":
		cfg, err = neoxTLConfig(b)
		convert = neoxModel
	case "gpt_neo":
		cfg, err = gptNeoTLConfig(b)
		convert = gptNeoModel
	case "llama", "mistral", "qwen2":
		arch := head.ModelType
		cfg, err = llamaTLConfig(arch, b)
		convert = func(src *source, cfg transformer.Config) (*transformer.Model, error) {
			return llamaModel(src, cfg, arch, arch == "qwen2") // Qwen2: biases on q, k, v
		}
	case "":
		return fail(fmt.Errorf("hf: %s has no model_type", filepath.Join(dir, ConfigFile)))
	default:
		return fail(fmt.Errorf("hf: model_type %q is not supported (only %s)", head.ModelType, strings.Join(ModelTypes(), ", ")))
	}
	if err != nil {
		return fail(fmt.Errorf("%w (in %s)", err, dir))
	}
	return head.ModelType, cfg, convert, nil
}

// Description is what Describe reads of a folder without reading weights.
type Description struct {
	ModelType string             // config.json's model_type
	Config    transformer.Config // the TransformerLens config it maps to (zero if ConfigErr)
	ConfigErr error              // why config.json does not map to a Config, or nil
	Files     []string           // the safetensors files, names inside the folder
	Tensors   []checkpoint.Info  // every tensor of the files, sorted by name
}

// Describe reads dir's config.json and the headers of its safetensors
// files, not the weights: the model_type, the config Load would build (or,
// in ConfigErr, Load's error about config.json), and every tensor's name,
// dtype and shape. It returns an error when config.json has no model_type
// or the files cannot be read (a tensor mismatch is only found by Load).
func Describe(dir string) (*Description, error) {
	b, err := readConfig(dir)
	if err != nil {
		return nil, err
	}
	var head struct {
		ModelType *string `json:"model_type"`
	}
	if err := json.Unmarshal(b, &head); err != nil || head.ModelType == nil {
		return nil, fmt.Errorf("hf: %s is not a JSON object with a model_type", filepath.Join(dir, ConfigFile))
	}
	d := &Description{ModelType: *head.ModelType}
	_, d.Config, _, d.ConfigErr = readModelConfig(dir)
	src, err := openSource(dir)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	for _, name := range src.names() {
		info, _ := src.where[name].Info(name)
		d.Tensors = append(d.Tensors, info)
	}
	d.Files = src.fileNames
	return d, nil
}

// ModelTypes returns the config.json model_type values Load converts.
func ModelTypes() []string {
	return []string{"gpt2", "gpt_neo", "gpt_neox", "llama", "mistral", "qwen2"}
}

func readConfig(dir string) ([]byte, error) {
	p := filepath.Join(dir, ConfigFile)
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("hf: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("hf: %w", err)
	}
	if st.Size() > maxConfigBytes {
		return nil, fmt.Errorf("hf: %s is %d bytes, more than the limit %d", p, st.Size(), maxConfigBytes)
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil && st.Size() > 0 {
		return nil, fmt.Errorf("hf: %s: %w", p, err)
	}
	return b, nil
}

// source is the safetensors file or shards of a folder, looked up by
// tensor name.
type source struct {
	files     []*checkpoint.File
	fileNames []string // files' names inside the folder, in the same order
	where     map[string]*checkpoint.File
}

// openSource opens dir's model.safetensors, or the shards its
// model.safetensors.index.json lists.
func openSource(dir string) (*source, error) {
	single := filepath.Join(dir, WeightsFile)
	if _, err := os.Stat(single); err == nil {
		f, err := checkpoint.Open(single)
		if err != nil {
			return nil, err
		}
		s := &source{files: []*checkpoint.File{f}, fileNames: []string{WeightsFile}, where: map[string]*checkpoint.File{}}
		for _, t := range f.Tensors() {
			s.where[t.Name] = f
		}
		return s, nil
	}
	idx := filepath.Join(dir, IndexFile)
	b, err := os.ReadFile(idx)
	if errors.Is(err, fs.ErrNotExist) {
		if _, perr := os.Stat(filepath.Join(dir, PickleFile)); perr == nil {
			return nil, fmt.Errorf("hf: %s holds %s (a Python pickle, which Workbench does not read) and no %s: convert it with Python: "+
				"transformers.AutoModelForCausalLM.from_pretrained(DIR).save_pretrained(DIR, safe_serialization=True)", dir, PickleFile, WeightsFile)
		}
		return nil, fmt.Errorf("hf: %s has neither %s nor %s", dir, WeightsFile, IndexFile)
	}
	if err != nil {
		return nil, fmt.Errorf("hf: %w", err)
	}
	var index struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(b, &index); err != nil {
		return nil, fmt.Errorf("hf: %s: %w", idx, err)
	}
	s := &source{where: map[string]*checkpoint.File{}}
	byShard := map[string]*checkpoint.File{}
	names := make([]string, 0, len(index.WeightMap))
	for name := range index.WeightMap {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		shard := index.WeightMap[name]
		if shard != filepath.Base(shard) {
			s.Close()
			return nil, fmt.Errorf("hf: %s: shard %q of tensor %q is not a file name in the folder", idx, shard, name)
		}
		f, ok := byShard[shard]
		if !ok {
			f, err = checkpoint.Open(filepath.Join(dir, shard))
			if err != nil {
				s.Close()
				return nil, err
			}
			byShard[shard] = f
			s.files = append(s.files, f)
			s.fileNames = append(s.fileNames, shard)
		}
		if _, ok := f.Info(name); !ok {
			s.Close()
			return nil, fmt.Errorf("hf: %s: tensor %q is not in its shard %s", idx, name, shard)
		}
		s.where[name] = f
	}
	return s, nil
}

// Close closes every file of s.
func (s *source) Close() error {
	var errs []error
	for _, f := range s.files {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}

// names returns every tensor name of s, sorted.
func (s *source) names() []string {
	out := make([]string, 0, len(s.where))
	for n := range s.where {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// into converts the tensor called name, which must have shape want, to
// float32 in dst (len(dst) its number of elements), without another copy.
func (s *source) into(dst []float32, name string, want ...int) error {
	f, ok := s.where[name]
	if !ok {
		return fmt.Errorf("hf: missing tensor %q (shape %v)", name, want)
	}
	if info, _ := f.Info(name); !slices.Equal(info.Shape, want) {
		return fmt.Errorf("hf: tensor %q: want shape %v, got %v", name, want, info.Shape)
	}
	if err := f.Float32Into(dst, name, want); err != nil {
		return fmt.Errorf("hf: %w", err)
	}
	return nil
}
