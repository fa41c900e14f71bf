// Package formats is the one entry point that opens a model in any format
// Workbench reads, by looking at what the path holds: a Hugging Face folder
// (transformer/hf), a llama2.c checkpoint (transformer/llama2c), or a
// TransformerLens-named safetensors file or run folder (transformer.Load).
// The CLI's --model and the dashboard's serve --model both go through it.
package formats

import (
	"fmt"

	"github.com/mechinterp/workbench/transformer"
	"github.com/mechinterp/workbench/transformer/hf"
	"github.com/mechinterp/workbench/transformer/llama2c"
)

// The formats Detect names.
const (
	HuggingFace     = "hugging face folder"
	Llama2C         = "llama2.c checkpoint"
	TransformerLens = "transformerlens safetensors"
)

// Detect names the format of the model at path, from its contents: a
// folder with a Hugging Face config.json, a file with a llama2.c header,
// or else a TransformerLens-named safetensors file or run folder (which
// transformer.Load checks as it reads).
func Detect(path string) string {
	switch {
	case hf.IsFolder(path):
		return HuggingFace
	case llama2c.IsCheckpoint(path):
		return Llama2C
	}
	return TransformerLens
}

// Load opens the model at path in whatever format it is. config, if not
// empty, is a config JSON file for a bare TransformerLens state dict; the
// other formats carry their own config, and giving one is an error.
func Load(path, config string) (*transformer.Model, error) {
	switch f := Detect(path); f {
	case HuggingFace, Llama2C:
		if config != "" {
			return nil, fmt.Errorf("formats: a config file does not apply to the %s %s, which holds its own", f, path)
		}
		if f == HuggingFace {
			return hf.Load(path)
		}
		return llama2c.Load(path)
	}
	if config != "" {
		return transformer.LoadWithConfig(path, config)
	}
	return transformer.Load(path)
}
