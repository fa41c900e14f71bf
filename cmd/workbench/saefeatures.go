package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mechinterp/workbench/sae"
	"github.com/mechinterp/workbench/sae/report"
)

// FeaturesFile is the dashboards' JSON in `sae features --out DIR`.
const featuresFile = "features.json"

func runSAEFeatures(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sae features", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var in saeInput
	in.register(fs)
	dir := fs.String("sae", "", "the dictionary's `DIR` (cfg.json + sae_weights.safetensors; required)")
	out := fs.String("out", "", "`DIR` to write features.json and the figures to (required)")
	list := fs.String("features", "", "comma-separated feature `IDS` to give a full dashboard (default: the --top densest)")
	top := fs.Int("top", 16, "with no --features: dashboards of the `N` densest features")
	contexts := fs.Int("contexts", 10, "top-activating contexts per feature")
	window := fs.Int("window", 8, "tokens shown either side of a context's peak")
	bins := fs.Int("bins", 20, "histogram bins")
	logits := fs.Int("logits", 10, "promoted and suppressed tokens listed")
	similar := fs.Int("similar", 5, "most similar features listed")
	seed := fs.Uint64("seed", 0, "seed of the task sequences, when the model's own task is used")
	asJSON := fs.Bool("json", false, `print {"dashboards", "features", "figures", "positions"}`)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: workbench sae features --sae DIR --model M [--text-file F | --tokens F] --out DIR [flags] [--json]")
		fmt.Fprintln(fs.Output())
		fmt.Fprintln(fs.Output(), "Feature dashboards: every feature's density, strongest tokens and top logits, and for the chosen")
		fmt.Fprintln(fs.Output(), "features their top-activating contexts (per-token activations, text with a tokenizer), an")
		fmt.Fprintln(fs.Output(), "activation histogram, the direct effect of the decoder direction on the logits (through")
		fmt.Fprintln(fs.Output(), "ln_final linearised at the input's mean scale, as in direct logit attribution) and the features")
		fmt.Fprintln(fs.Output(), "with the closest decoder directions. Writes DIR/features.json and PNG figures.")
		fmt.Fprintln(fs.Output())
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("sae features: unexpected argument %q", fs.Arg(0))
	}
	if *dir == "" || *out == "" {
		return fmt.Errorf("sae features: --sae DIR and --out DIR are required")
	}
	if *top < 1 || *top > sae.MaxDashboardFeatures {
		return fmt.Errorf("sae features: --top %d outside [1, %d]", *top, sae.MaxDashboardFeatures)
	}
	ids, err := parseFeatureList(*list)
	if err != nil {
		return fmt.Errorf("sae features: --features: %w", err)
	}
	s, err := sae.Load(*dir)
	if err != nil {
		return err
	}
	m, seqs, err := in.load("sae features", stderr)
	if err != nil {
		return err
	}
	if seqs == nil {
		_, seqs, _ = in.batches(nil, 1, *seed)
	}
	opt := sae.DashboardOptions{Features: ids, Contexts: *contexts, Window: *window, Bins: *bins, Logits: *logits, Similar: *similar}
	if in.v.known() {
		opt.TokenText = in.v.piece
	}
	if ids == nil {
		// Summaries first, then the densest features' dashboards.
		db, err := s.Dashboards(ctx, m, seqs, sae.DashboardOptions{Contexts: 1, Bins: 1, Logits: 1, Similar: 1})
		if err != nil {
			return err
		}
		opt.Features = db.Densest(*top)
	}
	db, err := s.Dashboards(ctx, m, seqs, opt)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("sae features: %w", err)
	}
	figs, err := report.WriteFeatures(*out, db, in.v.label)
	if err != nil {
		return err
	}
	doc := struct {
		*sae.Dashboards
		Figures []report.FeatureFigures `json:"figures"`
	}{db, figs}
	b, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("sae features: %w", err)
	}
	path := filepath.Join(*out, featuresFile)
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("sae features: %w", err)
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{"dashboards": path, "features": opt.Features, "figures": figs, "positions": db.Positions})
	}
	fmt.Fprintf(stdout, "%d features of %s on %d positions; dashboards of %d in %s\n", s.Cfg.DSAE, s.Cfg.HookName, db.Positions, len(db.Features), path)
	for _, f := range db.Features {
		var prom []string
		for _, e := range f.Promoted[:min(3, len(f.Promoted))] {
			prom = append(prom, in.v.label(e.Token))
		}
		var toks []string
		for _, t := range f.TopTokens {
			toks = append(toks, in.v.label(t))
		}
		fmt.Fprintf(stdout, "  feature %-5d density %.4f  max %.3g  fires on [%s]  promotes [%s]\n", f.ID, f.Density, f.MaxAct, strings.Join(toks, " "), strings.Join(prom, " "))
	}
	return nil
}

// parseFeatureList parses "3,17,40" (nil for "").
func parseFeatureList(s string) ([]int, error) {
	var ids []int
	for _, f := range splitList(s) {
		id, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a feature id", f)
		}
		ids = append(ids, id)
	}
	return ids, nil
}
