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
	"github.com/mechinterp/workbench/transformer/hf"
	"github.com/mechinterp/workbench/transformer/llama2c"
)

func runInspect(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("inspect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print one JSON object instead of a table")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintln(w, "Usage: workbench inspect [--json] FILE.safetensors|RUN_DIR|HF_DIR")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Lists a safetensors checkpoint's tensors (name, dtype, shape) and the metadata it")
		fmt.Fprintln(w, "carries (Workbench stores the model config under \"config\"). Exits non-zero with a")
		fmt.Fprintln(w, "one-line reason if the file is malformed.")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "For a Hugging Face folder (config.json with a model_type beside model.safetensors")
		fmt.Fprintln(w, "or its shards) it reads the config and the file headers, not the weights, and")
		fmt.Fprintln(w, "shows the model_type, the TransformerLens config Workbench maps it to, the files,")
		fmt.Fprintln(w, "the tensor count by dtype, the parameters in the files and in the converted model")
		fmt.Fprintln(w, "(float32), then each tensor; for a folder Workbench cannot convert (a model_type")
		fmt.Fprintln(w, "or a config field it does not implement) it says why instead of the config.")
		fmt.Fprintln(w, "For a llama2.c checkpoint (.bin) it shows the header's version, the TransformerLens")
		fmt.Fprintln(w, "config Workbench maps it to and the converted tensors.")
		fmt.Fprintln(w, "`workbench convert DIR|FILE.bin --out FILE` writes the converted model.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("inspect: want exactly one file or folder, got %d arguments; 'workbench inspect -h' shows how", fs.NArg())
	}
	path := fs.Arg(0)
	if hf.IsFolder(path) {
		return inspectHF(stdout, path, *asJSON)
	}
	if llama2c.IsCheckpoint(path) {
		return inspectLlama2c(stdout, path, *asJSON)
	}
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

// inspectHF describes the Hugging Face folder dir from its config and
// headers.
func inspectHF(stdout io.Writer, dir string, asJSON bool) error {
	d, err := hf.Describe(dir)
	if err != nil {
		return err
	}
	dtypes := map[string]int{}
	params := 0
	for _, t := range d.Tensors {
		dtypes[string(t.DType)]++
		params += t.Numel()
	}
	if asJSON {
		type row struct {
			Name  string `json:"name"`
			DType string `json:"dtype"`
			Shape []int  `json:"shape"`
		}
		out := struct {
			Format      string          `json:"format"`
			ModelType   string          `json:"model_type"`
			Config      json.RawMessage `json:"config"`                 // null when it does not convert
			ConfigErr   string          `json:"config_error,omitempty"` // why
			Files       []string        `json:"files"`
			DTypes      map[string]int  `json:"dtypes"`
			Params      int             `json:"parameters"`
			ModelParams int             `json:"model_parameters,omitempty"` // float32 parameters of the converted model
			Tensors     []row           `json:"tensors"`
		}{Format: "huggingface", ModelType: d.ModelType, Config: json.RawMessage("null"), Files: d.Files, DTypes: dtypes, Params: params}
		if d.ConfigErr != nil {
			out.ConfigErr = d.ConfigErr.Error()
		} else {
			out.Config, out.ModelParams = d.Config.JSON(), d.Config.NumParams()
		}
		for _, t := range d.Tensors {
			out.Tensors = append(out.Tensors, row{t.Name, string(t.DType), t.Shape})
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	names := make([]string, 0, len(dtypes))
	for k := range dtypes {
		names = append(names, k)
	}
	sort.Strings(names)
	byType := ""
	for i, k := range names {
		if i > 0 {
			byType += ", "
		}
		byType += fmt.Sprintf("%s %d", k, dtypes[k])
	}
	fmt.Fprintf(stdout, "Hugging Face folder %s\n", dir)
	fmt.Fprintf(stdout, "model_type   %s\n", d.ModelType)
	fmt.Fprintf(stdout, "files        %v\n", d.Files)
	fmt.Fprintf(stdout, "tensors      %d (%s)\n", len(d.Tensors), byType)
	if d.ConfigErr != nil {
		fmt.Fprintf(stdout, "parameters   %d in the files\n", params)
		fmt.Fprintf(stdout, "\nWorkbench cannot convert this folder: %v\n\n", d.ConfigErr)
	} else {
		fmt.Fprintf(stdout, "parameters   %d in the files; %d float32 in the converted model (%s)\n", params, d.Config.NumParams(), gib(4*float64(d.Config.NumParams())))
		fmt.Fprintf(stdout, "\nconfig (TransformerLens names, as Workbench maps it):\n%s\n\n", d.Config.JSON())
	}
	fmt.Fprintf(stdout, "%-48s %-6s %s\n", "TENSOR", "DTYPE", "SHAPE")
	for _, t := range d.Tensors {
		fmt.Fprintf(stdout, "%-48s %-6s %v\n", t.Name, t.DType, t.Shape)
	}
	return nil
}

// inspectLlama2c describes a llama2.c checkpoint: the TransformerLens
// config its header maps to and the tensors of the converted model.
func inspectLlama2c(w io.Writer, path string, asJSON bool) error {
	m, err := llama2c.Load(path)
	if err != nil {
		return err
	}
	type row struct {
		Name  string `json:"name"`
		Shape []int  `json:"shape"`
	}
	var rows []row
	params := 0
	for _, t := range m.StateDict() {
		rows = append(rows, row{t.Name, t.Shape})
		params += len(t.Data)
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"format": "llama2.c", "config": m.Cfg, "parameters": params, "tensors": rows})
	}
	c := m.Cfg
	fmt.Fprintf(w, "llama2.c checkpoint %s: %d layers, d_model %d, %d heads (%d key/value), d_mlp %d, vocabulary %d, n_ctx %d, %s\n",
		filepath.Base(path), c.NLayers, c.DModel, c.NHeads, c.NKeyValueHeads, c.DMLP, c.DVocab, c.NCtx, map[bool]string{true: "tied classifier", false: "untied classifier"}[c.TiedEmbeddings])
	b, _ := json.Marshal(c)
	fmt.Fprintf(w, "config: %s\n", b)
	fmt.Fprintf(w, "%-32s %s\n", "TENSOR (converted)", "SHAPE")
	for _, r := range rows {
		fmt.Fprintf(w, "%-32s %v\n", r.Name, r.Shape)
	}
	fmt.Fprintf(w, "%d parameters\n", params)
	return nil
}
