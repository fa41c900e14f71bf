package web

import (
	"embed"
	"fmt"
	"io/fs"

	"github.com/mechinterp/workbench/checkpoint"
)

// The demo is the toy induction model a fresh clone shows: 2 attention-only
// layers of 4 heads, d_model 64, d_vocab 64, n_ctx 40, trained for 2,000
// steps by Workbench itself with
//
//	go run ./cmd/workbench train induction --out /tmp/demo --seed 0
//
// after which demo/ holds that run's model.safetensors, metrics.jsonl,
// summary.json and config.json, copied unchanged (see demo/README.md).
// Training is deterministic for a given seed on one machine, so the command
// reproduces the file on the machine that made it and gives an equivalent
// model elsewhere.
//
//go:embed demo/model.safetensors demo/metrics.jsonl demo/summary.json demo/config.json
var demoFS embed.FS

// demoName is the demo's model and run name.
const demoName = "demo"

// loadDemo parses the embedded demo model. The file is part of the build,
// so failure is a programming error (TestDemo guards it).
func loadDemo() (*model, error) {
	m, _, err := embeddedModel(demoFS, "demo/"+modelFile, demoName)
	return m, err
}

// embeddedModel parses an embedded model file as the model called name
// (source "demo") and returns its checkpoint too, for its metadata.
func embeddedModel(fsys fs.FS, path, name string) (*model, *checkpoint.File, error) {
	b, err := fs.ReadFile(fsys, path)
	if err != nil {
		return nil, nil, err
	}
	f, err := checkpoint.Parse(b)
	if err != nil {
		return nil, nil, fmt.Errorf("web: %s model: %w", name, err)
	}
	m, err := newModel(name, "demo", f)
	if err != nil {
		return nil, nil, fmt.Errorf("web: %s model: %w", name, err)
	}
	return m, f, nil
}
