package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/mechinterp/workbench/circuits"
)

// runAnalyze is `workbench analyze`: the circuits report of a model.
func runAnalyze(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("analyze", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var mf modelFlags
	mf.register(fs)
	tokensPath := fs.String("tokens", "", "JSON `FILE` of token sequences for TransformerLens's head detectors (optional)")
	asJSON := fs.Bool("json", false, "print one JSON object (heads, composition, composition_baseline, ov_eigen_positivity, full_ov_top1, …)")
	seed := fs.Uint64("seed", 0, "seed of the sampled baseline and the repeated-token sequences")
	samples := fs.Int("baseline-samples", circuits.DefaultBaselineSamples, "random head pairs for the sampled composition baseline")
	seqs := fs.Int("sequences", circuits.DefaultSequences, "repeated-token sequences on which heads are named")
	prefix := fs.String("prefix", "", "comma-separated token `IDS` before each repeated-token sequence (a BOS token, say)")
	top := fs.Int("top", circuits.DefaultTop, "strongest compositions to list")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: workbench analyze --model FILE [--config FILE] [--tokens FILE] [--json]")
		fmt.Fprintln(stderr)
		fmt.Fprintln(stderr, "Reads a model's circuits: Q/K/V-composition scores beside their random baseline,")
		fmt.Fprintln(stderr, "full-OV eigenvalue positivity and top-1 accuracy, TransformerLens's previous-token,")
		fmt.Fprintln(stderr, "duplicate-token and induction detectors on --tokens, and Olsson et al.'s prefix-")
		fmt.Fprintln(stderr, "matching and copying scores on repeated random tokens, naming the heads they fit.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("analyze: unexpected argument %q", fs.Arg(0))
	}
	if *samples < 1 || *seqs < 1 || *top < 1 {
		return fmt.Errorf("analyze: --baseline-samples, --sequences and --top must be positive")
	}
	pre, err := parseIDs("--prefix", *prefix)
	if err != nil {
		return fmt.Errorf("analyze: --prefix %q: want comma-separated token ids", *prefix)
	}
	m, err := mf.load()
	if err != nil {
		return err
	}
	opt := circuits.AnalyzeOptions{Seed: *seed, BaselineSamples: *samples, Sequences: *seqs, Prefix: pre, Top: *top}
	if *tokensPath != "" {
		if opt.Tokens, err = readTokens(*tokensPath, m.Cfg.NCtx, maxHeldTokens); err != nil {
			return err
		}
	}
	r, err := circuits.Analyze(ctx, m, opt)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(r)
	}
	return r.WriteText(stdout)
}
