package web

import (
	"embed"
	"fmt"

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
	b, err := demoFS.ReadFile("demo/model.safetensors")
	if err != nil {
		return nil, err
	}
	f, err := checkpoint.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("web: demo model: %w", err)
	}
	m, err := newModel(demoName, "demo", f)
	if err != nil {
		return nil, fmt.Errorf("web: demo model: %w", err)
	}
	return m, nil
}
