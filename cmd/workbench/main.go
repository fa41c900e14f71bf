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

	"github.com/mechinterp/workbench/internal/humanerr"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode reports err on stderr, once, and returns the process's exit
// status: 0 for success and for -h (flag.ErrHelp), 130 (the shell's code
// for SIGINT) when a signal cancelled the work, 1 for any other error.
func exitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "workbench: interrupted:", err)
		return 130
	}
	fmt.Fprintln(stderr, "workbench:", humanError(err))
	return 1
}

// humanError is err's message without the library's package prefixes:
// "eval: token 999 at sequence 0 position 2 is out of range [0, 64)"
// rather than "eval: transformer: token 999 …".
func humanError(err error) string {
	msg, head := err.Error(), ""
	for _, c := range commands() { // "train: …", "discover: …" name the command: they stay
		if strings.HasPrefix(msg, c.name+": ") || strings.HasPrefix(msg, c.name+" ") {
			i := strings.Index(msg, ": ")
			head, msg = msg[:i+2], msg[i+2:]
			break
		}
	}
	return head + humanerr.Strip(msg)
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
		{"train", "train a model with telemetry: induction heads, a CNN, a GAN, … ('train -h' lists them)", runTrain},
	}
}

// run is the whole program minus process concerns, so tests can call it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return runServe(ctx, nil, stdout, stderr)
	}
	name := args[0]
	if name == "help" && len(args) > 1 { // help CMD [SUB]: that command's -h
		return run(ctx, append(args[1:], "-h"), stdout, stderr)
	}
	if name == "help" || name == "-h" || name == "-help" || name == "--help" {
		usage(stdout)
		return nil
	}
	if strings.HasPrefix(name, "-") { // flags and no command: serve's flags
		return runServe(ctx, args, stdout, stderr)
	}
	var names []string
	for _, c := range commands() {
		if c.name == name {
			err := c.run(ctx, args[1:], stdout, stderr)
			if err != nil && !errors.Is(err, flag.ErrHelp) && !strings.HasPrefix(err.Error(), c.name) {
				err = fmt.Errorf("%s: %w", c.name, err) // say which command failed
			}
			return err
		}
		names = append(names, c.name)
	}
	if s := suggest(name, names); s != "" {
		return fmt.Errorf("unknown command %q (did you mean %q?); 'workbench help' lists the commands", name, s)
	}
	return fmt.Errorf("unknown command %q; 'workbench help' lists the commands", name)
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
