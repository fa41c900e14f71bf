package workbench_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/mechinterp/workbench/"

// allowed is the import table of ../shared/ARCHITECTURE.md: for each package
// (directory relative to the module root), the module packages and external
// module prefixes its non-test files may import. The standard library is
// always allowed. Change this table by decision, never to make a build pass.
var allowed = map[string][]string{
	"tensor":     {"golang.org/x/sys/cpu"},
	"checkpoint": {},
	// tokenizer turns text into token ids (GPT-2's files, Hugging Face's
	// tokenizer.json): a bottom layer beside checkpoint, its pre-tokenizer
	// regexes hand-written scanners; golang.org/x/text only for the NFC
	// normalizer.
	"tokenizer": {"golang.org/x/text"},
	// workers is the one worker pool (models' training steps, analyses'
	// parallel loops); standard library only, beside tensor.
	"workers": {},
	"hooks":   {"tensor", "checkpoint"},
	"nn":      {"tensor", "checkpoint", "gonum.org/v1/gonum"}, // checkpoint: the one state-dict I/O of every model family (nn.Params)
	"optim":   {"tensor"},
	"data":    {"tensor"},
	// data/datatest is test support (a synthetic Fashion-MNIST); only tests
	// import it.
	"data/datatest": {"data"},
	"transformer":   {"tensor", "nn", "hooks", "checkpoint", "workers"},
	// transformertest is shared test support (tiny configs, random models,
	// the parity fixtures' path); only tests import it.
	"transformer/transformertest": {"transformer", "internal/testenv"},
	// transformer/hf converts Hugging Face folders to transformer.Model
	// (ARCHITECTURE.md: format converters are subpackages of transformer);
	// it loads a folder's tokenizer files for its model too (LoadTokenizer:
	// transformer itself knows nothing of text).
	"transformer/hf": {"transformer", "checkpoint", "tokenizer"},
	// transformer/llama2c reads llama2.c checkpoints (legacy, ak42 v1, v2).
	"transformer/llama2c": {"transformer"},
	// transformer/formats is the one entry point that detects a model's
	// format and loads it through the converter for it.
	"transformer/formats": {"transformer", "transformer/hf", "transformer/llama2c"},
	// internal/testenv finds the shared parity fixtures for tests of
	// any package, checkpoint's included: standard library only.
	"internal/testenv": {},
	// internal/racepkgs is .ci/run's tool that picks the race detector's
	// packages: standard library only.
	"internal/racepkgs": {},
	// internal/humanerr words the library's errors for users (the CLI's
	// messages, the dashboard's API errors): standard library only.
	"internal/humanerr": {},
	"cnn":               {"tensor", "nn", "hooks", "checkpoint", "optim", "workers", "data", "train"},                              // its experiments train (SGD: plain vs residual) and optimise inputs (Adam: activation maximisation)
	"gan":               {"tensor", "nn", "hooks", "checkpoint", "cnn", "optim", "data", "train", "workers", "gonum.org/v1/gonum"}, // trains on train.Run with optim's Adam and data's images and mixtures; Fréchet distance via gonum
	"train":             {"tensor", "nn", "optim", "checkpoint", "data", "hooks"},
	// train/induction is the toy induction experiment that the CLI and the
	// dashboard both run: it wires the model-agnostic loop to the
	// transformer, the synthetic task and circuit telemetry.
	"train/induction": {"tensor", "nn", "optim", "checkpoint", "data", "hooks", "transformer", "train", "circuits", "gonum.org/v1/gonum"},
	// train/lm trains language models on text: the corpus through a
	// tokenizer into a token shard, the induction trainer's step and
	// telemetry (previous-token, prefix-matching, copying scores).
	"train/lm": {"checkpoint", "circuits", "data", "hooks", "optim", "patching", "tokenizer", "train", "train/induction", "transformer"},
	"circuits": {"tensor", "hooks", "transformer", "workers", "gonum.org/v1/gonum"},
	"lens":     {"tensor", "nn", "hooks", "transformer", "optim", "checkpoint", "gonum.org/v1/gonum"},
	"patching": {"tensor", "nn", "hooks", "transformer", "workers", "gonum.org/v1/gonum"},
	// sae trains sparse dictionaries on activations streamed from models'
	// hook points; web, the CLI and notebooks import it.
	"sae": {"tensor", "nn", "hooks", "transformer", "optim", "checkpoint"},
	// sae/report draws a dictionary's feature dashboards (sae.Dashboards)
	// and sparsity–fidelity curves as PNG files.
	"sae/report": {"sae", "figures"},
	// discover (edge attribution, ACDC) builds on patching's metrics.
	"discover": {"tensor", "nn", "hooks", "transformer", "patching", "workers"},
	// sweep plans sweeps of training runs and runs their tasks through
	// the CLI's own entry point (a Runner), in processes of the workbench
	// binary: it never imports a model package, only train's run-folder
	// conventions (locks, checkpoints, atomic JSON) and the worker pool.
	"sweep": {"train", "workers"},
	// sweep/slurmtest starts a single-node Slurm cluster for tests; only
	// tests import it.
	"sweep/slurmtest": {"internal/testenv"},
	// sweep/report draws a sweep's results (sweep.Results) as an HTML
	// page with figures.
	"sweep/report": {"sweep", "figures"},
	"figures":      {"tensor", "gonum.org/v1/gonum", "gonum.org/v1/plot", "golang.org/x/image"},
	"web":          {"*internal", "github.com/go-chi/chi/v5"},
	// notebooks/report is the notebooks' own framework (report builder,
	// flags, the quick-run test helper); every notebook imports it.
	"notebooks": {"*internal", "gonum.org/v1/gonum", "notebooks/report"},
	// cmd/workbench wires the library to flags and the dashboard: each
	// package it may import is named, so that a new dependency of the CLI
	// is a decision too.
	"cmd/workbench": {"web", "tensor", "checkpoint", "data", "optim", "transformer", "transformer/hf", "transformer/llama2c", "transformer/formats", "cnn", "gan", "train", "train/induction", "train/lm",
		"circuits", "lens", "patching", "discover", "sae", "sae/report", "tokenizer", "sweep", "sweep/report", "internal/humanerr", "golang.org/x/term"},
}

// internalBelowWeb lists the packages "*internal" stands for: everything but
// cmd, web and notebooks.
var internalBelowWeb = []string{"tensor", "checkpoint", "workers", "hooks", "nn", "optim", "data",
	"tokenizer", "transformer", "transformer/hf", "transformer/llama2c", "transformer/formats", "cnn", "gan", "train", "train/induction", "train/lm", "circuits", "lens", "patching", "discover", "sae", "sae/report", "sweep", "figures", "internal/humanerr"}

func TestImportTable(t *testing.T) {
	fset := token.NewFileSet()
	err := walkGoFiles(func(path string) error {
		if strings.HasSuffix(path, "_test.go") || filepath.Dir(path) == "." {
			return nil
		}
		dir := filepath.ToSlash(filepath.Dir(path))
		row, ok := rowFor(dir)
		if !ok {
			t.Errorf("%s: package %q has no row in the import table (deps_test.go); add one by decision", path, dir)
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			if !importAllowed(dir, row, p) {
				t.Errorf("%s imports %q, which row %q of the import table does not allow", path, p, dir)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// walkGoFiles calls f with the path of every .go file of the module, below
// the current directory (the module root), leaving out hidden folders,
// testdata and the runs and out folders that commands write.
func walkGoFiles(f func(path string) error) error {
	return filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != "." && (strings.HasPrefix(name, ".") || name == "testdata" || name == "runs" || name == "out") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		return f(path)
	})
}

// rowFor finds the table row for a package directory: its own, or that of
// the nearest listed ancestor (notebooks/01-x uses "notebooks").
func rowFor(dir string) ([]string, bool) {
	for d := dir; d != "." && d != "/"; d = filepath.ToSlash(filepath.Dir(d)) {
		if row, ok := allowed[d]; ok {
			return row, true
		}
	}
	return nil, false
}

func importAllowed(dir string, row []string, p string) bool {
	if !strings.Contains(strings.SplitN(p, "/", 2)[0], ".") {
		return true // standard library
	}
	if rest, ok := strings.CutPrefix(p, module); ok {
		if strings.HasPrefix(rest, dir+"/") || rest == dir {
			return true // own subpackages
		}
		if slices.Contains(row, "*internal") && slices.Contains(internalBelowWeb, rest) {
			return true
		}
		return slices.Contains(row, rest)
	}
	for _, a := range row {
		if strings.Contains(a, ".") && (p == a || strings.HasPrefix(p, a+"/")) {
			return true
		}
	}
	return false
}

func TestImportTableSelfCheck(t *testing.T) {
	tests := []struct {
		dir, imp string
		want     bool
	}{
		{"tensor", "golang.org/x/sys/cpu", true},
		{"tensor", "gonum.org/v1/gonum/mat", false},
		{"hooks", module + "tensor", true},
		{"hooks", module + "nn", false},
		{"circuits", module + "lens", false},
		{"lens", module + "patching", false},
		{"web", "github.com/go-chi/chi/v5/middleware", true},
		{"transformer", "github.com/go-chi/chi/v5", false},
		{"cmd/workbench", module + "web", true},
		{"checkpoint", "fmt", true},
		{"notebooks/01-induction-heads", module + "notebooks/report", true},
		{"notebooks/report/reporttest", module + "notebooks/report", true},
		{"notebooks/01-induction-heads", module + "cmd/workbench", false},
		{"notebooks/01-induction-heads", module + "web", false},
		{"cmd/workbench", module + "lens", true},
		{"cmd/workbench", module + "nn", false},
		{"cmd/workbench", module + "figures", false},
		{"cmd/workbench", module + "notebooks/report", false},
		{"cmd/workbench", "github.com/go-chi/chi/v5", false},
		{"cmd/workbench", "golang.org/x/term", true},
	}
	for _, tt := range tests {
		row, ok := rowFor(tt.dir)
		if !ok {
			t.Fatalf("no row for %q", tt.dir)
		}
		if got := importAllowed(tt.dir, row, tt.imp); got != tt.want {
			t.Errorf("importAllowed(%q, %q) = %v, want %v", tt.dir, tt.imp, got, tt.want)
		}
	}
	// A command without its own row has none: "cmd" is not a row.
	if _, ok := rowFor("cmd/other"); ok {
		t.Error(`rowFor("cmd/other") found a row; every command needs its own`)
	}
	if _, err := os.Stat("go.mod"); err != nil {
		t.Fatalf("deps_test must run from the module root: %v", err)
	}
}
