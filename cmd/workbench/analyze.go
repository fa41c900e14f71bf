package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/mechinterp/workbench/circuits"
	"github.com/mechinterp/workbench/transformer"
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
	batch := fs.Int("batch", evalBatch, "--tokens sequences run at once (memory grows with it; the file may hold any number)")
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
	if *samples < 1 || *seqs < 1 || *top < 1 || *batch < 1 {
		return fmt.Errorf("analyze: --baseline-samples, --sequences, --top and --batch must be positive")
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
	r, err := circuits.Analyze(ctx, m, opt)
	if err != nil {
		return err
	}
	if *tokensPath != "" {
		if err := detectHeads(ctx, r, m, *tokensPath, *batch); err != nil {
			return err
		}
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(r)
	}
	return r.WriteText(stdout)
}

// detectHeads fills r's TransformerLens detector scores (what
// AnalyzeOptions.Tokens gives) from the token file at path, read batch
// sequences at a time: each score is a mean over sequences, so the batches'
// scores weighted by their sizes give the score over the whole file.
func detectHeads(ctx context.Context, r *circuits.Report, m *transformer.Model, path string, batch int) error {
	tr, err := openTokens(path, m.Cfg.NCtx)
	if err != nil {
		return err
	}
	defer tr.Close()
	dets := []struct {
		dst *[][]float64
		det circuits.DetectionPattern
	}{
		{&r.PrevTokenScore, circuits.PrevTokenPattern},
		{&r.DuplicateTokenScore, circuits.DuplicateTokenPattern},
		{&r.InductionScore, circuits.InductionPattern},
	}
	var toks [][]int
	n := 0
	for {
		if toks, err = tr.batch(toks, batch); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return err
		}
		if n == 0 {
			// The forward pass and a copy of every pattern.
			if err := checkMemory(fmt.Sprintf("analyze: a batch of %d sequences of %d tokens", len(toks), len(toks[0])),
				2*forwardBytes(m.Cfg, len(toks), len(toks[0])), "lower --batch"); err != nil {
				return err
			}
		}
		p, err := circuits.RunPatterns(ctx, m, toks)
		if err != nil {
			return err
		}
		for _, d := range dets {
			s, err := p.Detect(d.det, circuits.DetectOptions{})
			if err != nil {
				return fmt.Errorf("analyze: sequences %d..%d: %w", n, n+len(toks)-1, err)
			}
			if *d.dst == nil {
				*d.dst = make([][]float64, len(s))
				for l := range s {
					(*d.dst)[l] = make([]float64, len(s[l]))
				}
			}
			for l := range s {
				for h, v := range s[l] {
					(*d.dst)[l][h] += float64(len(toks)) * v
				}
			}
		}
		n += len(toks)
	}
	for _, d := range dets {
		for _, row := range *d.dst {
			for h := range row {
				row[h] /= float64(n)
			}
		}
	}
	return nil
}
