package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/mechinterp/workbench/checkpoint"
)

func runInspect(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("inspect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print one JSON object instead of a table")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: workbench inspect [--json] FILE.safetensors|RUN_DIR")
		fmt.Fprintln(stderr)
		fmt.Fprintln(stderr, "Lists a safetensors checkpoint's tensors (name, dtype, shape) and the metadata it")
		fmt.Fprintln(stderr, "carries (Workbench stores the model config under \"config\"). Exits non-zero with a")
		fmt.Fprintln(stderr, "one-line reason if the file is malformed.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("inspect: want exactly one file, got %d arguments", fs.NArg())
	}
	path := fs.Arg(0)
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "model.safetensors") // a run folder's model
	}
	f, err := checkpoint.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	infos := f.Tensors()
	if *asJSON {
		type row struct {
			Name  string `json:"name"`
			DType string `json:"dtype"`
			Shape []int  `json:"shape"`
		}
		out := struct {
			Tensors  []row             `json:"tensors"`
			Metadata map[string]string `json:"metadata"`
			Params   int               `json:"parameters"`
		}{Metadata: f.Metadata}
		for _, t := range infos {
			out.Tensors = append(out.Tensors, row{t.Name, string(t.DType), t.Shape})
			out.Params += t.Numel()
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	total := 0
	fmt.Fprintf(stdout, "%-32s %-6s %s\n", "TENSOR", "DTYPE", "SHAPE")
	for _, t := range infos {
		fmt.Fprintf(stdout, "%-32s %-6s %v\n", t.Name, t.DType, t.Shape)
		total += t.Numel()
	}
	fmt.Fprintf(stdout, "%d tensors, %d values\n", len(infos), total)
	keys := make([]string, 0, len(f.Metadata))
	for k := range f.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(stdout, "\nmetadata %q:\n%s\n", k, f.Metadata[k])
	}
	return nil
}
