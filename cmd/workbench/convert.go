package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// convertSourceKey is the safetensors metadata key under which convert
// records where the model came from.
const convertSourceKey = "converted_from"

func runConvert(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("convert", flag.ContinueOnError)
	fset.SetOutput(stderr)
	var mf modelFlags
	mf.register(fset)
	out := fset.String("out", "", "the safetensors `FILE` to write (required)")
	force := fset.Bool("force", false, "overwrite --out if it exists")
	fset.Usage = func() {
		w := fset.Output()
		fmt.Fprintln(w, "Usage: workbench convert SRC --out FILE.safetensors [--force]")
		fmt.Fprintln(w, "       workbench convert --model SRC [--config FILE] --out FILE.safetensors")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Converts a model to Workbench's own format: one safetensors file with")
		fmt.Fprintln(w, "TransformerLens state-dict names and layouts (embed.W_E, blocks.0.attn.W_Q")
		fmt.Fprintln(w, "[n_heads, d_model, d_head], …) and the model config, with TransformerLens field")
		fmt.Fprintln(w, "names, as JSON under the metadata key \"config\". Every command loads the result")
		fmt.Fprintln(w, "with --model FILE without reading the source format again; in Python,")
		fmt.Fprintln(w, "safetensors.torch.load_file(FILE) gives a TransformerLens-named state dict.")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "SRC is anything --model accepts: a Hugging Face folder (config.json beside")
		fmt.Fprintln(w, "model.safetensors or its shards; `workbench inspect DIR` shows how it maps), or a")
		fmt.Fprintln(w, "checkpoint (with --config when it carries no config). The weights are written as")
		fmt.Fprintln(w, "float32, whatever their dtype in SRC; the file records SRC under")
		fmt.Fprintf(w, "%q. The write is atomic (a temporary file, then a rename).\n", convertSourceKey)
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Example:")
		fmt.Fprintln(w, "  workbench convert ./TinyStories-33M --out tinystories.safetensors")
		fmt.Fprintln(w, "  workbench eval --model tinystories.safetensors --tokens toks.json")
		fset.PrintDefaults()
	}
	// SRC may come before or after the flags.
	var positional []string
	for {
		if err := parseFlags(fset, args, stdout); err != nil {
			return err
		}
		if fset.NArg() == 0 {
			break
		}
		positional = append(positional, fset.Arg(0))
		args = fset.Args()[1:]
	}
	switch {
	case len(positional) > 1:
		return fmt.Errorf("convert: want one source, got %q", positional)
	case len(positional) == 1 && mf.model != "":
		return fmt.Errorf("convert: the source is given twice: %q and --model %q", positional[0], mf.model)
	case len(positional) == 1:
		mf.model = positional[0]
	case mf.model == "":
		return errors.New("convert: want a source (SRC or --model); 'workbench convert -h' shows how")
	}
	if *out == "" {
		return errors.New("convert: --out is required")
	}
	if _, err := os.Stat(*out); err == nil && !*force {
		return fmt.Errorf("convert: %s exists (use --force to overwrite it)", *out)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("convert: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m, err := mf.load()
	if err != nil {
		return err
	}
	if err := m.Save(*out, map[string]string{convertSourceKey: mf.model}); err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s: %d parameters, %d layers, d_model %d\n", *out, m.Cfg.NumParams(), m.Cfg.NLayers, m.Cfg.DModel)
	return nil
}
