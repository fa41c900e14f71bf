// Command workbench is Workbench's command-line interface: it serves the
// dashboard, trains toy models, and runs analyses. `workbench help` lists the
// subcommands; every subcommand has -h.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "workbench:", err)
		os.Exit(1)
	}
}

// command is one subcommand: its name, one line of help, and its entry point.
type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"analyze", "circuits: composition scores, head detectors, OV copying", runAnalyze},
		{"discover", "circuit discovery: EAP, EAP-IG and ACDC edge scores, faithfulness", runDiscover},
		{"convert", "write a model (Hugging Face folder, …) as a TransformerLens-named safetensors file", runConvert},
		{"eval", "run a model on token sequences: logits and loss", runEval},
		{"generate", "continue prompts (greedy or sampled) with a key-value cache", runGenerate},
		{"inspect", "list a safetensors checkpoint's tensors and config", runInspect},
		{"lens", "logit lens and tuned lens: what each layer already predicts", runLens},
		{"sae", "sparse autoencoders and transcoders: train, evaluate, the toy ground truth", runSAE},
		{"serve", "serve the dashboard (what 'workbench' alone does)", runServe},
		{"patch", "activation and attribution patching sweeps", runPatch},
		{"tokenize", "text to token ids, pieces and byte spans (GPT-2 or tokenizer.json)", runTokenize},
		{"tokenizer", "train a byte-level BPE tokenizer on a text, written as tokenizer.json", runTokenizer},
		{"sweep", "sweeps of training runs: plan, run locally, on Slurm or Kubernetes", runSweep},
		{"train", "train a toy model (induction) with circuit telemetry", runTrain},
	}
}

// run is the whole program minus process concerns, so tests can call it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return runServe(ctx, nil, stdout, stderr)
	}
	name := args[0]
	if name == "help" || name == "-h" || name == "--help" {
		usage(stdout)
		return nil
	}
	if strings.HasPrefix(name, "-") { // flags and no command: serve's flags
		return runServe(ctx, args, stdout, stderr)
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	usage(stderr)
	return fmt.Errorf("unknown command %q", name)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Workbench: a mechanistic-interpretability workbench for small transformers.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: workbench [command] [flags]   (no command: serve the dashboard)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'workbench <command> -h' for a command's flags.")
}
