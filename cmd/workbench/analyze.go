package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"

	"github.com/mechinterp/workbench/circuits"
	"github.com/mechinterp/workbench/transformer"
)

// runAnalyze is `workbench analyze`: the circuits report of a model.
func runAnalyze(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("analyze", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var mf modelFlags
	mf.register(fs)
	var tf textFlags
	tf.register(fs)
	in := tokenInput{optional: true}
	in.register(fs, "tokens", "JSON `FILE` of token sequences for TransformerLens's head detectors (optional)", "text")
	asJSON := fs.Bool("json", false, "print one JSON object (heads, composition, composition_baseline, ov_eigen_positivity, full_ov_top1, …; with a tokenizer, detector_examples; text input adds tokens and pieces)")
	seed := fs.Uint64("seed", 0, "seed of the sampled baseline and the repeated-token sequences")
	samples := fs.Int("baseline-samples", circuits.DefaultBaselineSamples, "random head pairs for the sampled composition baseline")
	seqs := fs.Int("sequences", circuits.DefaultSequences, "repeated-token sequences on which heads are named")
	prefix := fs.String("prefix", "", "comma-separated token `IDS` before each repeated-token sequence (a BOS token, say)")
	top := fs.Int("top", circuits.DefaultTop, "strongest compositions to list")
	batch := fs.Int("batch", evalBatch, "--tokens sequences run at once (memory grows with it; the file may hold any number)")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintln(w, "Usage: workbench analyze --model FILE [--config FILE] [--tokens FILE | --text S | --text-file F] [--json]")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Reads a model's circuits: Q/K/V-composition scores beside their random baseline,")
		fmt.Fprintln(w, "full-OV eigenvalue positivity and top-1 accuracy, TransformerLens's previous-token,")
		fmt.Fprintln(w, "duplicate-token and induction detectors on --tokens, and Olsson et al.'s prefix-")
		fmt.Fprintln(w, "matching and copying scores on repeated random tokens, naming the heads they fit.")
		fmt.Fprintln(w, "With a tokenizer (--model's folder's, or --tokenizer) each detector's strongest head is")
		fmt.Fprintln(w, "shown at work on sequence 0: where it attends among the places the detector looks at.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stdout); err != nil {
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
	for _, id := range pre {
		if id < 0 || id >= m.Cfg.DVocab {
			return fmt.Errorf("analyze: --prefix token %d is out of range [0, %d)", id, m.Cfg.DVocab)
		}
	}
	v, err := tf.load("analyze", mf.model, m, stderr)
	if err != nil {
		return err
	}
	src, text, err := v.open(fs, &in)
	if err != nil {
		return err
	}
	if src != nil {
		defer src.Close()
	}
	opt := circuits.AnalyzeOptions{Seed: *seed, BaselineSamples: *samples, Sequences: *seqs, Prefix: pre, Top: *top}
	r, err := circuits.Analyze(ctx, m, opt)
	if err != nil {
		return err
	}
	var examples []detectorExample
	if src != nil {
		seq0, err := detectHeads(ctx, r, m, src, *batch)
		if err != nil {
			return err
		}
		if v.known() {
			if examples, err = detectorExamples(ctx, r, m, seq0, v); err != nil {
				return err
			}
		}
	}
	if *asJSON {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		var extra bytes.Buffer
		if examples != nil {
			if err := writeJSONField(&extra, "detector_examples", examples); err != nil {
				return err
			}
		}
		if err := writeTextJSON(&extra, "", text); err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s%s}\n", b[:len(b)-1], extra.Bytes())
		return err
	}
	if err := r.WriteText(stdout); err != nil {
		return err
	}
	return writeDetectorExamples(stdout, v, examples)
}

// detectHeads fills r's TransformerLens detector scores (what
// AnalyzeOptions.Tokens gives) from the token sequences of tr, read batch
// sequences at a time: each score is a mean over sequences, so the batches'
// scores weighted by their sizes give the score over the whole file. It
// returns a copy of the first sequence.
func detectHeads(ctx context.Context, r *circuits.Report, m *transformer.Model, tr tokenSource, batch int) ([]int, error) {
	var first []int
	dets := []struct {
		dst *[][]float64
		det circuits.DetectionPattern
	}{
		{&r.PrevTokenScore, circuits.PrevTokenPattern},
		{&r.DuplicateTokenScore, circuits.DuplicateTokenPattern},
		{&r.InductionScore, circuits.InductionPattern},
	}
	var toks [][]int
	var err error
	n := 0
	for {
		if toks, err = tr.batch(toks, batch); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, err
		}
		if n == 0 {
			// The forward pass and a copy of every pattern.
			if err := checkMemory(fmt.Sprintf("analyze: a batch of %d sequences of %d tokens", len(toks), len(toks[0])),
				2*forwardBytes(m.Cfg, len(toks), len(toks[0])), "lower --batch"); err != nil {
				return nil, err
			}
		}
		p, err := circuits.RunPatterns(ctx, m, toks)
		if err != nil {
			return nil, err
		}
		if first == nil {
			first = slices.Clone(toks[0])
		}
		for _, d := range dets {
			s, err := p.Detect(d.det, circuits.DetectOptions{})
			if err != nil {
				return nil, fmt.Errorf("analyze: sequences %d..%d: %w", n, n+len(toks)-1, err)
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
	return first, nil
}
