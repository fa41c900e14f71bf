package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/mechinterp/workbench/tensor"
	"github.com/mechinterp/workbench/transformer"
)

// modelFlags are the flags every command that loads a model shares.
type modelFlags struct {
	model, config string
}

func (f *modelFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.model, "model", "", "model checkpoint (`FILE`.safetensors with TransformerLens state-dict names) or a run folder")
	fs.StringVar(&f.config, "config", "", "model config JSON `FILE` for a checkpoint without one in its metadata (a run folder's train.json is not one)")
}

func (f *modelFlags) load() (*transformer.Model, error) {
	if f.model == "" {
		return nil, fmt.Errorf("--model is required")
	}
	if f.config != "" {
		return transformer.LoadWithConfig(f.model, f.config)
	}
	return transformer.Load(f.model)
}

// readTokens reads a JSON array of token sequences ([[1, 2, 3], ...]).
func readTokens(path string) ([][]int, error) {
	if path == "" {
		return nil, fmt.Errorf("--tokens is required")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var toks [][]int
	if err := json.Unmarshal(b, &toks); err != nil {
		return nil, fmt.Errorf("%s: want a JSON array of token sequences like [[1, 2, 3]]: %w", path, err)
	}
	return toks, nil
}

func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var mf modelFlags
	mf.register(fs)
	tokensPath := fs.String("tokens", "", "JSON `FILE` holding an array of equal-length token sequences")
	asJSON := fs.Bool("json", false, `print {"logits": [batch][pos][d_vocab_out], "loss": x}`)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: workbench eval --model FILE [--config FILE] --tokens FILE [--json]")
		fmt.Fprintln(stderr)
		fmt.Fprintln(stderr, "Runs a model on token sequences and reports the logits and the loss: the mean")
		fmt.Fprintln(stderr, "next-token cross-entropy over positions 0..T-2 of every sequence.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("eval: unexpected argument %q", fs.Arg(0))
	}
	m, err := mf.load()
	if err != nil {
		return err
	}
	toks, err := readTokens(*tokensPath)
	if err != nil {
		return err
	}
	logits, err := m.Run(ctx, toks, nil)
	if err != nil {
		return err
	}
	loss := math.NaN()
	if len(toks[0]) >= 2 {
		if loss, err = m.Loss(ctx, toks, nil, nil); err != nil {
			return err
		}
	}
	if *asJSON {
		out := struct {
			Logits [][][]float32 `json:"logits"`
			Loss   *float64      `json:"loss"`
		}{Logits: nest3(logits)}
		if !math.IsNaN(loss) {
			out.Loss = &loss
		}
		return json.NewEncoder(stdout).Encode(out)
	}
	B, T, V := logits.Shape[0], logits.Shape[1], logits.Shape[2]
	fmt.Fprintf(stdout, "%d sequences × %d positions, d_vocab_out %d\n", B, T, V)
	if !math.IsNaN(loss) {
		fmt.Fprintf(stdout, "loss (mean next-token cross-entropy): %.6f\n", loss)
	}
	for b := 0; b < B; b++ {
		fmt.Fprintf(stdout, "sequence %d, top prediction per position:", b)
		for p := 0; p < T; p++ {
			row := logits.Data[(b*T+p)*V : (b*T+p+1)*V]
			best := 0
			for j := range row {
				if row[j] > row[best] {
					best = j
				}
			}
			fmt.Fprintf(stdout, " %d", best)
		}
		fmt.Fprintln(stdout)
	}
	return nil
}

// nest3 turns a [a, b, c] tensor into nested slices for JSON.
func nest3(t *tensor.Tensor) [][][]float32 {
	a, b, c := t.Shape[0], t.Shape[1], t.Shape[2]
	out := make([][][]float32, a)
	for i := range out {
		out[i] = make([][]float32, b)
		for j := range out[i] {
			out[i][j] = t.Data[(i*b+j)*c : (i*b+j+1)*c]
		}
	}
	return out
}
